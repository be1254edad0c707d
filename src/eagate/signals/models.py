from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from eagate.kit.db import Base
from eagate.kit.ids import uuid7

DELIVERY_STATUSES = ("pending", "delivered", "placed", "failed", "expired", "cancelled")
OPEN_STATUSES = ("pending", "delivered")  # not yet acknowledged: may still be (re)delivered


class Signal(Base):
    """A trade instruction an owner sends to some of its terminals."""

    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_client_id_id", "client_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(8))
    volume: Mapped[Decimal]
    price: Mapped[Decimal | None]
    sl: Mapped[Decimal | None]
    tp: Mapped[Decimal | None]
    comment: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class Delivery(Base):
    """One signal's journey to one device."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'placed', 'failed', 'expired', 'cancelled')",
            name="status",
        ),
        # The poll query: this device's open deliveries in signal order.
        Index("ix_deliveries_device_id_status_signal_id", "device_id", "status", "signal_id"),
    )

    signal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]  # the signal's, copied so the poll query needs no join
    delivered_at: Mapped[datetime | None]  # first delivery
    lease_until: Mapped[datetime | None]  # redelivered after this unless acknowledged
    acked_at: Mapped[datetime | None]
    broker_ticket: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class Ack(Base):
    """What a terminal said it did with a signal. The primary key is the SPEC's invariant:
    exactly one ack per (signal, device), however many arrive at once."""

    __tablename__ = "acks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["signal_id", "device_id"],
            ["deliveries.signal_id", "deliveries.device_id"],
            ondelete="CASCADE",
        ),
    )

    signal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    broker_ticket: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    executed_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]


class IdempotencyKey(Base):
    """A POST /signals Idempotency-Key: the same key and body within 24 h replays the answer."""

    __tablename__ = "idempotency_keys"

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    signal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("signals.id", ondelete="CASCADE")
    )
    response_body: Mapped[str | None] = mapped_column(Text)
