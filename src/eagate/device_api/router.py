from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from eagate.device_api.dependencies import SignedDevice, signature_dependencies
from eagate.device_api.schemas import DeviceMe, PollResult
from eagate.openapi import problem_responses
from eagate.state import StateDep

router = APIRouter(
    prefix="/device",
    tags=["device API (HMAC-signed)"],
    dependencies=signature_dependencies,
    responses=problem_responses(401),
)


@router.get("/me", response_model=DeviceMe)
async def device_me(device: SignedDevice, state: StateDep) -> DeviceMe:
    """Who the signing device is, and the server's clock."""
    return DeviceMe(
        device_id=device.id,
        device_name=device.device_name,
        client_id=device.client_id,
        server_time=int(state.clock.time()),
    )


@router.get("/poll", response_model=PollResult)
async def poll(
    device: SignedDevice,
    state: StateDep,
    wait: Annotated[int, Query(ge=0, le=30, description="Long-poll up to this many seconds")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many signals")] = 20,
) -> PollResult:
    """Signals waiting for this device, oldest first; with `wait`, hold until one arrives."""
    state.activity.record(device.id, state.clock.now(), poll=True)
    return PollResult(
        signals=[],
        server_time=int(state.clock.time()),
        next_poll_seconds=state.settings.next_poll_seconds,
    )
