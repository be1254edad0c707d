"""The signed device API (SPEC 4): every route here needs an HMAC-signed request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from eagate.device_api.dependencies import ActivityDep, SignedDevice, signature_dependencies
from eagate.device_api.schemas import DeviceInfo, PollResult
from eagate.http.dependencies import ClockDep, MetricsDep, SessionDep
from eagate.http.openapi import problem_responses
from eagate.http.paths import API_PREFIX
from eagate.signals import delivery
from eagate.signals.schemas import AckRequest, AckResult

router = APIRouter(
    prefix=f"{API_PREFIX}/device",
    tags=["device API (HMAC-signed)"],
    dependencies=signature_dependencies,
    responses=problem_responses(401),
)


class ServedByPollHandler(RuntimeError):
    """The poll is answered by ``device_api.poll.PollHandler`` at the ASGI edge."""


@router.get("/poll", response_model=PollResult, responses=problem_responses(422, 429, 503))
async def poll_signals(
    wait: Annotated[int, Query(ge=0, le=30, description="Long-poll up to this many seconds")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many signals")] = 20,
) -> PollResult:
    """Signals waiting for this device, oldest first; with `wait`, hold until one arrives."""
    # Declared here for the OpenAPI document and for readers; requests never reach it: the
    # hot path is answered in plain ASGI (create_app hands PollHandler to the edge).
    raise ServedByPollHandler()


@router.get("/me", response_model=DeviceInfo)
async def get_device_info(device: SignedDevice, clock: ClockDep) -> DeviceInfo:
    """Who the signing device is, and the server's clock."""
    return DeviceInfo(
        device_id=device.id,
        device_name=device.device_name,
        client_id=device.client_id,
        server_time=int(clock.time()),
    )


@router.post("/ack", response_model=AckResult, responses=problem_responses(404, 409, 422))
async def acknowledge_signal(
    body: AckRequest,
    device: SignedDevice,
    session: SessionDep,
    clock: ClockDep,
    activity: ActivityDep,
    metrics: MetricsDep,
) -> AckResult:
    """Report what the terminal did with a signal (placed or failed); repeats are idempotent."""
    now = clock.now()
    activity.record(device.id, now.timestamp(), ack=True)
    recorded = await delivery.record_ack(session, device_id=device.id, ack=body, now=now)
    if recorded.recorded_at == now:  # new, not a repeat
        metrics.ack(recorded.status, recorded.signal_id, now.timestamp())
    return AckResult(
        signal_id=recorded.signal_id,
        status=recorded.status,
        broker_ticket=recorded.broker_ticket,
        error=recorded.error,
        recorded_at=recorded.recorded_at,
    )
