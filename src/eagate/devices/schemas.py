from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from eagate.devices.names import clean_device_name
from eagate.kit.text import single_line

DeviceName = Annotated[
    str,
    Field(
        min_length=1,  # the limit of 100 applies after trimming, checked below
        description="1-100 printable characters after trimming; unique among active devices",
        examples=["EURUSD scalper #1"],
    ),
    AfterValidator(clean_device_name),
]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_name: DeviceName


class DeviceRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_name: DeviceName


class DeviceRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=128), AfterValidator(single_line)] | None = None


class Device(BaseModel):
    """A registered EA instance (SPEC 3); it never carries the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    device_name: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    last_poll_at: datetime | None
    last_ack_at: datetime | None
    last_seen_at: datetime | None
    secret_fingerprint: str = Field(description="First 8 hex chars of SHA-256(secret)")


class DeviceWithSecret(Device):
    """A device and its new secret: the answer to registering it or rotating its secret."""

    secret: str = Field(
        description="The device secret (64 hex chars). Shown once: store it in the EA now."
    )
