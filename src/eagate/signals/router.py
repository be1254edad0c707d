from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from eagate.accounts.dependencies import CurrentOwner
from eagate.audit.service import Actor
from eagate.http.dependencies import ClockDep, SessionDep, client_ip
from eagate.http.openapi import problem_responses
from eagate.http.paging import PageDep, set_next_link
from eagate.http.paths import API_PREFIX
from eagate.signals import service
from eagate.signals.dependencies import CoordinationDep
from eagate.signals.schemas import DeviceStats, Signal, SignalCreate, parse_exact_json

router = APIRouter(prefix=f"{API_PREFIX}/signals", tags=["signals"])
stats_router = APIRouter(prefix=f"{API_PREFIX}/devices", tags=["devices"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Same key + same body within 24 h returns the original response",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Signal,
    responses=problem_responses(404, 409),
)
async def create_signal(
    body: SignalCreate,
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    coordination: CoordinationDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Send a trading signal to the listed devices, or to every active device."""
    # FastAPI parsed numbers as binary floats; validate again from the exact text, so that
    # a number with more digits than we store is refused rather than rounded.
    parsed = parse_exact_json(await request.body())
    try:
        body = SignalCreate.model_validate(parsed)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    created = await service.create_signal(
        session,
        client_id=owner.id,
        request=body,
        idempotency_key=idempotency_key,
        fingerprint=service.request_fingerprint(parsed),
        wake=coordination.wake,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )
    return Response(created.body, status_code=201, media_type="application/json")


@router.get("", response_model=list[Signal])
async def list_signals(
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> list[Signal]:
    """The owner's signals with their per-device deliveries, newest first."""
    result = await service.list_signals(session, client_id=owner.id, page=page, now=clock.now())
    set_next_link(request, response, result.next_after)
    return result.items


@router.get("/{signal_id}", response_model=Signal, responses=problem_responses(404))
async def get_signal(
    signal_id: uuid.UUID, owner: CurrentOwner, session: SessionDep, clock: ClockDep
) -> Signal:
    """One signal and the fate of each of its deliveries."""
    return await service.get_signal(
        session, client_id=owner.id, signal_id=signal_id, now=clock.now()
    )


@router.post("/{signal_id}/cancel", response_model=Signal, responses=problem_responses(404))
async def cancel_signal(
    signal_id: uuid.UUID,
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
) -> Signal:
    """Cancel a signal: deliveries not yet acknowledged become `cancelled`."""
    return await service.cancel_signal(
        session,
        client_id=owner.id,
        signal_id=signal_id,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )


@stats_router.get(
    "/{device_id}/stats", response_model=DeviceStats, responses=problem_responses(404)
)
async def get_device_stats(
    device_id: uuid.UUID,
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    window: Annotated[
        int, Query(ge=1, le=10000, description="How many recent deliveries to measure")
    ] = 1000,
) -> DeviceStats:
    """Delivery latency of a device: created -> delivered -> acked, p50 and p95."""
    return await service.device_stats(
        session, client_id=owner.id, device_id=device_id, window=window, now=clock.now()
    )
