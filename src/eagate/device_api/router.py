from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from eagate.device_api.dependencies import SignedDevice, signature_dependencies
from eagate.device_api.schemas import DeviceMe, DeviceSignal, PollResult
from eagate.openapi import problem_responses
from eagate.signals import delivery
from eagate.signals.schemas import AckOut, AckRequest
from eagate.state import SessionDep, StateDep

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
    delivered = await delivery.poll(
        database=state.database,
        hub=state.deliveries,
        clock=state.clock,
        device_id=device.id,
        wait=wait,
        limit=limit,
        lease_seconds=state.settings.delivery_lease_seconds,
    )
    return PollResult(
        signals=[
            DeviceSignal(
                signal_id=item.signal.id,
                instrument=item.signal.instrument,
                side=item.signal.side,
                order_type=item.signal.order_type,
                volume=item.signal.volume,
                price=item.signal.price,
                sl=item.signal.sl,
                tp=item.signal.tp,
                comment=item.signal.comment,
                created_at=item.signal.created_at,
                expires_at=item.signal.expires_at,
                attempt=item.attempt,
            )
            for item in delivered
        ],
        server_time=int(state.clock.time()),
        next_poll_seconds=state.settings.next_poll_seconds,
    )


@router.post("/ack", response_model=AckOut, responses=problem_responses(404, 409, 422))
async def ack(
    body: AckRequest, device: SignedDevice, session: SessionDep, state: StateDep
) -> AckOut:
    """Report what the terminal did with a signal (placed or failed); repeats are idempotent."""
    now = state.clock.now()
    state.activity.record(device.id, now, ack=True)
    recorded = await delivery.record_ack(session, device_id=device.id, ack=body, now=now)
    return AckOut(
        signal_id=recorded.signal_id,
        status=recorded.status,
        broker_ticket=recorded.broker_ticket,
        error=recorded.error,
        recorded_at=recorded.recorded_at,
    )
