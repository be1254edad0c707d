from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from eagate.signals.schemas import Number, Volume


class DeviceInfo(BaseModel):
    """Who the signing device is, and the server's clock."""

    device_id: uuid.UUID
    device_name: str
    client_id: uuid.UUID
    server_time: int = Field(description="Unix seconds")


class DeviceSignal(BaseModel):
    signal_id: uuid.UUID
    instrument: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit", "stop"]
    volume: Volume
    price: Number | None
    sl: Number | None
    tp: Number | None
    comment: str | None
    created_at: datetime
    expires_at: datetime
    attempt: int = Field(description="1 on first delivery, +1 on each redelivery after a lease")


class PollResult(BaseModel):
    signals: list[DeviceSignal]
    server_time: int
    next_poll_seconds: int = Field(
        description="Seconds to wait before the next poll when not long-polling"
    )
