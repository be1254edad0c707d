from __future__ import annotations

from fastapi import APIRouter

from eagate.api import API_PREFIX
from eagate.device_api.dependencies import SignedDevice, signature_dependencies
from eagate.device_api.schemas import DeviceMe
from eagate.openapi import problem_responses
from eagate.signals import delivery
from eagate.signals.schemas import AckOut, AckRequest
from eagate.state import SessionDep, StateDep

router = APIRouter(
    prefix=f"{API_PREFIX}/device",
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


@router.post("/ack", response_model=AckOut, responses=problem_responses(404, 409, 422))
async def ack(
    body: AckRequest, device: SignedDevice, session: SessionDep, state: StateDep
) -> AckOut:
    """Report what the terminal did with a signal (placed or failed); repeats are idempotent."""
    now = state.clock.now()
    state.activity.record(device.id, now.timestamp(), ack=True)
    recorded = await delivery.record_ack(session, device_id=device.id, ack=body, now=now)
    if recorded.recorded_at == now:  # new, not a repeat
        state.metrics.ack(recorded.status, recorded.signal_id, now.timestamp())
    return AckOut(
        signal_id=recorded.signal_id,
        status=recorded.status,
        broker_ticket=recorded.broker_ticket,
        error=recorded.error,
        recorded_at=recorded.recorded_at,
    )
