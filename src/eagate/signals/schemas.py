from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from eagate.kit.text import multi_line, single_line


def _json_number(value: object) -> object:
    # SPEC: numbers are JSON numbers; "0.1" (a string) or true are not.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    return value


# JSON numbers in and out, kept exact: at most 15 significant digits, so the shortest float
# representation used on output is the very number that came in (0.1 stays 0.1). Bodies are
# parsed with Decimal (``parse_exact_json``), so 0.10000000000000001 is refused, not rounded.
_NUMBER_SCHEMA = {
    "type": "number",
    "exclusiveMinimum": 0,
    "description": "A JSON number > 0: at most 15 significant digits, 8 decimal places",
}
Number = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(gt=0, max_digits=15, decimal_places=8, allow_inf_nan=False),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(_NUMBER_SCHEMA),
]
Volume = Annotated[Number, Field(le=1000), WithJsonSchema({**_NUMBER_SCHEMA, "maximum": 1000})]
Instrument = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9._#-]{1,32}$", examples=["EURUSD", "XAUUSD.m"])
]

DeliveryStatus = Literal["pending", "delivered", "placed", "failed", "expired", "cancelled"]


class SignalFields(BaseModel):
    instrument: Instrument
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit", "stop"] = "market"
    volume: Volume
    price: Number | None = Field(None, description="Required unless order_type is market")
    sl: Number | None = None
    tp: Number | None = None
    comment: Annotated[str, Field(max_length=64), AfterValidator(single_line)] | None = None


class SignalCreate(SignalFields):
    model_config = ConfigDict(extra="forbid")

    device_ids: Annotated[
        list[uuid.UUID] | None,
        Field(min_length=1, max_length=1000, description="Default: every active device"),
    ] = None
    expires_in_seconds: Annotated[int, Field(ge=60, le=86400)] = 14400

    @model_validator(mode="after")
    def _price_unless_market(self) -> Self:
        if self.order_type != "market" and self.price is None:
            raise ValueError(f"price is required for a {self.order_type} order")
        return self


class Delivery(BaseModel):
    """The fate of a signal on one of its devices."""

    device_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    delivered_at: datetime | None
    acked_at: datetime | None
    broker_ticket: str | None
    error: str | None


class Signal(SignalFields):
    """A trading signal as the owner sees it, with one delivery per target device."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    deliveries: list[Delivery]


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_id: uuid.UUID
    status: Literal["placed", "failed"]
    broker_ticket: (
        Annotated[str, Field(min_length=1, max_length=64), AfterValidator(single_line)] | None
    ) = None
    error: (
        Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(multi_line)] | None
    ) = None
    executed_at: datetime | None = None

    @model_validator(mode="after")
    def _ticket_or_error(self) -> Self:
        if self.status == "placed" and self.broker_ticket is None:
            raise ValueError("broker_ticket is required when status is placed")
        if self.status == "failed" and self.error is None:
            raise ValueError("error is required when status is failed")
        return self


class AckResult(BaseModel):
    """The ack as recorded: a repeat of the same ack answers with the first `recorded_at`."""

    signal_id: uuid.UUID
    status: Literal["placed", "failed"]
    broker_ticket: str | None
    error: str | None
    recorded_at: datetime


class LatencySummary(BaseModel):
    count: int
    p50_ms: float | None
    p95_ms: float | None


class DeviceStats(BaseModel):
    """Delivery latency of a device's most recent deliveries (see docs/API.md)."""

    device_id: uuid.UUID
    window: int = Field(description="How many of the most recent deliveries were measured")
    deliveries_by_status: dict[str, int]
    created_to_delivered: LatencySummary
    delivered_to_acked: LatencySummary
    created_to_acked: LatencySummary


def parse_exact_json(raw: bytes) -> Any:
    """A JSON body with every number as a Decimal, exactly as written."""
    return json.loads(raw, parse_float=Decimal, parse_int=Decimal)
