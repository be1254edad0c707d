from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from eagate.kit.db import Base
from eagate.kit.ids import uuid7


class Device(Base):
    """One EA instance in one MT5 terminal, with its encrypted signing secret."""

    __tablename__ = "devices"
    __table_args__ = (
        # Active names are unique per owner, case-insensitively: enforced here, not by a
        # check-then-insert race. Revoked devices free their name.
        Index(
            "uq_devices_client_id_name_key_active",
            "client_id",
            "name_key",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index("ix_devices_client_id_id", "client_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    device_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(400))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(128))
    last_poll_at: Mapped[datetime | None]
    last_ack_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]

    secret_fingerprint: Mapped[str] = mapped_column(String(8))
    secret_key_id: Mapped[str] = mapped_column(String(32))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation the previous secret stays valid until the device first signs with the
    # new one or the grace period ends, whichever comes first.
    previous_secret_key_id: Mapped[str | None] = mapped_column(String(32))
    previous_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]


class DeviceAuthChange(Base):
    """Outbox of changes to who may sign as a device (register, rotate, revoke, delete).

    Every process watches it to drop stale entries from its in-memory key cache within a
    second, whichever process (or CLI command) made the change, with or without Redis.
    """

    __tablename__ = "device_auth_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No foreign key: the row must outlive a deleted device so watchers still hear of it.
    device_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(index=True)
