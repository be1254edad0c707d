from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from eagate.kit.db import Base
from eagate.kit.ids import uuid7


class Client(Base):
    """An owner account: a trading platform's client who registers devices."""

    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    # Stored normalized (trimmed, lower-cased) so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # Set by an operator (`eagate clients lock`): sign-in refused, every session revoked.
    locked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Part of the per-email sign-in throttle's key: `eagate clients reset-lockout` moves it on,
    # which gives the email a fresh counter on every instance at once.
    lockout_generation: Mapped[int] = mapped_column(default=0, server_default="0")


class OwnerSession(Base):
    """One signed-in session: the `jti` of the access tokens issued for it.

    Every owner request looks its session up, so revoking one (sign-out, a password change,
    an operator's lock) refuses its token on the very next request, on every instance.
    """

    __tablename__ = "owner_sessions"
    __table_args__ = (Index("ix_owner_sessions_client_id_id", "client_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    # Coalesced: written at most once a minute per session, not on every request.
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
