from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from eagate.device_api.activity import ActivityRecorder
from eagate.device_api.auth import AuthenticatedDevice, DeviceAuthenticator
from eagate.http.dependencies import ClockDep, component
from eagate.kit.logs import bind_actor

DeviceAuthDep = Annotated[DeviceAuthenticator, Depends(component(DeviceAuthenticator))]
ActivityDep = Annotated[ActivityRecorder, Depends(component(ActivityRecorder))]

# Declared for the OpenAPI document (so /docs shows the headers); verification is below.
signature_dependencies = [
    Depends(APIKeyHeader(name=name, auto_error=False, scheme_name=name, description=text))
    for name, text in (
        ("X-Device-Id", "The device's id"),
        ("X-Timestamp", "Unix seconds, UTC"),
        ("X-Nonce", "16-64 chars of [A-Za-z0-9_-], never reused"),
        ("X-Signature", "base64 HMAC-SHA256 of the canonical string (see PROTOCOL.md)"),
    )
]


async def signed_device(
    request: Request, auth: DeviceAuthDep, activity: ActivityDep, clock: ClockDep
) -> AuthenticatedDevice:
    """The device whose HMAC signature this request carries (SPEC 4), or a 401."""
    device = await auth.authenticate_scope(request.scope, await request.body())
    bind_actor(device_id=device.id)
    activity.record(device.id, clock.time())
    return device


SignedDevice = Annotated[AuthenticatedDevice, Depends(signed_device)]
