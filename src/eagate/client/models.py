"""What the device API returns (SPEC 4), as immutable typed models.

Unknown fields are ignored, so a newer server does not break an older SDK. Prices and volumes
are Decimals parsed from the JSON text, so 0.1 stays exactly 0.1.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

AckStatus = Literal["placed", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DeviceInfo(_Model):
    device_id: uuid.UUID
    device_name: str
    client_id: uuid.UUID
    server_time: int


class DeviceSignal(_Model):
    signal_id: uuid.UUID
    instrument: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit", "stop"]
    volume: Decimal
    price: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None
    comment: str | None = None
    created_at: datetime
    expires_at: datetime
    attempt: int


class PollResult(_Model):
    signals: list[DeviceSignal]
    server_time: int
    next_poll_seconds: int
    # Not from the server: redeliveries of signals this client already handed out, dropped.
    duplicates_dropped: int = 0


class AckResult(_Model):
    signal_id: uuid.UUID
    status: AckStatus
    broker_ticket: str | None = None
    error: str | None = None
    recorded_at: datetime
