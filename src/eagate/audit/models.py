from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from eagate.kit.db import Base
from eagate.kit.ids import uuid7


class AuditEvent(Base):
    """Something sensitive that happened to an owner's account, devices or signals."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_client_id_id", "client_id", "id"),
        Index("ix_audit_events_client_id_device_id_id", "client_id", "device_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))  # "client:<id>" or "device:<id>"
    # No foreign key: the trail outlives nothing but its owner, and must not block deletes.
    device_id: Mapped[uuid.UUID | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
