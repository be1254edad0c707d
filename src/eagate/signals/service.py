"""Owner-side signals: create (idempotently), list, get, cancel, and delivery statistics."""

from __future__ import annotations

import hashlib
import json
import statistics
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit import service as audit
from eagate.audit.service import Actor
from eagate.devices.errors import DeviceNotFound, DeviceRevoked
from eagate.devices.models import Device
from eagate.kit.db import after_commit, insert_ignoring_conflict
from eagate.kit.ids import uuid7
from eagate.kit.paging import Page, PageRequest
from eagate.signals import schemas
from eagate.signals.delivery import cancel_open_deliveries
from eagate.signals.errors import IdempotencyKeyReused, NoActiveDevices, SignalNotFound
from eagate.signals.models import OPEN_STATUSES, Delivery, IdempotencyKey, Signal

IDEMPOTENCY_TTL = timedelta(hours=24)


def request_fingerprint(parsed_body: Any) -> str:
    """Hash of the body as parsed JSON (``parse_exact_json``): key order, whitespace and the
    spelling of equal numbers (1, 1.0, 1e0) do not matter."""
    canonical = json.dumps(
        parsed_body,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=lambda number: {"$number": str(number.normalize())},
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def delivery_status(delivery: Delivery, now: datetime) -> str:
    # Expiry is a fact of time, not an event: an open delivery past its signal's expiry is
    # expired whether or not anything has written that down yet.
    if delivery.status in OPEN_STATUSES and delivery.expires_at <= now:
        return "expired"
    return delivery.status


def signal_fields(signal: Signal) -> dict[str, Any]:
    """What owners and devices alike are told of a signal."""
    return {
        "instrument": signal.instrument,
        "side": signal.side,
        "order_type": signal.order_type,
        "volume": signal.volume,
        "price": signal.price,
        "sl": signal.sl,
        "tp": signal.tp,
        "comment": signal.comment,
        "created_at": signal.created_at,
        "expires_at": signal.expires_at,
    }


def signal_out(signal: Signal, deliveries: Sequence[Delivery], now: datetime) -> schemas.Signal:
    return schemas.Signal(
        id=signal.id,
        **signal_fields(signal),
        deliveries=[
            schemas.Delivery(
                device_id=d.device_id,
                status=delivery_status(d, now),
                attempts=d.attempts,
                delivered_at=d.delivered_at,
                acked_at=d.acked_at,
                broker_ticket=d.broker_ticket,
                error=d.error,
            )
            for d in deliveries
        ],
    )


@dataclass(frozen=True)
class Created:
    body: str  # the response JSON: stored with an idempotency key, replayed verbatim
    replayed: bool


async def _target_devices(
    session: AsyncSession, client_id: uuid.UUID, device_ids: list[uuid.UUID] | None
) -> list[uuid.UUID]:
    if device_ids is None:
        # FOR SHARE (PostgreSQL): a revocation committing meanwhile is waited for and seen,
        # so no pending delivery is left for a revoked device. SQLite writers are serialized.
        active = list(
            await session.scalars(
                select(Device.id)
                .where(Device.client_id == client_id, Device.is_active)
                .with_for_update(read=True)
            )
        )
        if not active:
            raise NoActiveDevices("register a device first, or name device_ids")
        return active
    wanted = list(dict.fromkeys(device_ids))
    rows = (
        await session.execute(
            select(Device.id, Device.is_active)
            .where(Device.client_id == client_id, Device.id.in_(wanted))
            .with_for_update(read=True)
        )
    ).all()
    found = {row.id: row.is_active for row in rows}
    missing = [device_id for device_id in wanted if device_id not in found]
    if missing:
        raise DeviceNotFound(f"no such device: {missing[0]}")
    revoked = [device_id for device_id in wanted if not found[device_id]]
    if revoked:
        raise DeviceRevoked(f"device {revoked[0]} is revoked")
    return wanted


async def _claim_idempotency_key(
    session: AsyncSession, *, client_id: uuid.UUID, key: str, fingerprint: str, now: datetime
) -> IdempotencyKey | None:
    """None if the key is ours to use now; the earlier use if it is a replay."""
    for _ in range(2):
        values = {
            "client_id": client_id,
            "key": key,
            "request_hash": fingerprint,
            "created_at": now,
        }
        if await insert_ignoring_conflict(session, IdempotencyKey.__table__, values):  # type: ignore[arg-type]
            return None
        earlier = await session.get(IdempotencyKey, (client_id, key), populate_existing=True)
        if earlier is None:
            continue  # deleted between our insert and read: try once more
        if earlier.created_at <= now - IDEMPOTENCY_TTL:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.client_id == client_id, IdempotencyKey.key == key
                )
            )
            continue
        if earlier.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        return earlier
    raise IdempotencyKeyReused("the key is being used concurrently; retry")


async def create_signal(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    request: schemas.SignalCreate,
    idempotency_key: str | None,
    fingerprint: str,
    wake: Callable[[Sequence[uuid.UUID]], Awaitable[None]],
    actor: Actor,
    now: datetime,
) -> Created:
    if idempotency_key is not None:
        earlier = await _claim_idempotency_key(
            session, client_id=client_id, key=idempotency_key, fingerprint=fingerprint, now=now
        )
        if earlier is not None and earlier.response_body is not None:
            return Created(earlier.response_body, replayed=True)

    targets = await _target_devices(session, client_id, request.device_ids)
    signal = Signal(
        id=uuid7(),
        client_id=client_id,
        instrument=request.instrument,
        side=request.side,
        order_type=request.order_type,
        volume=request.volume,
        price=request.price,
        sl=request.sl,
        tp=request.tp,
        comment=request.comment,
        created_at=now,
        expires_at=now + timedelta(seconds=request.expires_in_seconds),
    )
    session.add(signal)
    await session.flush()
    deliveries = [
        Delivery(
            signal_id=signal.id,
            device_id=device_id,
            status="pending",
            attempts=0,
            expires_at=signal.expires_at,
        )
        for device_id in targets
    ]
    session.add_all(deliveries)
    await session.flush()
    body = signal_out(signal, deliveries, now).model_dump_json()
    if idempotency_key is not None:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == idempotency_key)
            .values(signal_id=signal.id, response_body=body)
        )
    audit.record(
        session,
        client_id=client_id,
        action="signal.created",
        actor=actor,
        at=now,
        detail={
            "signal_id": str(signal.id),
            "instrument": signal.instrument,
            "side": signal.side,
            "devices": len(targets),
        },
    )
    after_commit(session, lambda: wake(targets))
    return Created(body, replayed=False)


async def _deliveries_of(
    session: AsyncSession, signal_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Delivery]]:
    by_signal: dict[uuid.UUID, list[Delivery]] = {signal_id: [] for signal_id in signal_ids}
    if signal_ids:
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.signal_id.in_(signal_ids))
            .order_by(Delivery.signal_id, Delivery.device_id)
        )
        for delivery in rows:
            by_signal[delivery.signal_id].append(delivery)
    return by_signal


async def list_signals(
    session: AsyncSession, *, client_id: uuid.UUID, page: PageRequest, now: datetime
) -> Page[schemas.Signal]:
    """Newest first."""
    query = select(Signal).where(Signal.client_id == client_id)
    if page.after is not None:
        query = query.where(Signal.id < page.after)
    rows = list(await session.scalars(query.order_by(Signal.id.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    deliveries = await _deliveries_of(session, [signal.id for signal in rows])
    items = [signal_out(signal, deliveries[signal.id], now) for signal in rows]
    return Page(items, rows[-1].id if more else None)


async def _owned_signal(
    session: AsyncSession, client_id: uuid.UUID, signal_id: uuid.UUID
) -> Signal:
    signal = await session.scalar(
        select(Signal).where(Signal.id == signal_id, Signal.client_id == client_id)
    )
    if signal is None:
        raise SignalNotFound()
    return signal


async def get_signal(
    session: AsyncSession, *, client_id: uuid.UUID, signal_id: uuid.UUID, now: datetime
) -> schemas.Signal:
    signal = await _owned_signal(session, client_id, signal_id)
    deliveries = await _deliveries_of(session, [signal.id])
    return signal_out(signal, deliveries[signal.id], now)


async def cancel_signal(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    signal_id: uuid.UUID,
    actor: Actor,
    now: datetime,
) -> schemas.Signal:
    """Deliveries not yet acknowledged become cancelled; cancelling again changes nothing."""
    signal = await _owned_signal(session, client_id, signal_id)
    if signal.cancelled_at is None:
        signal.cancelled_at = now
        await cancel_open_deliveries(session, signal_id=signal.id, now=now)
        audit.record(
            session,
            client_id=client_id,
            action="signal.cancelled",
            actor=actor,
            at=now,
            detail={"signal_id": str(signal.id)},
        )
        await session.flush()
    deliveries = await _deliveries_of(session, [signal.id])
    return signal_out(signal, deliveries[signal.id], now)


def _summary(samples: list[float]) -> schemas.LatencySummary:
    if not samples:
        return schemas.LatencySummary(count=0, p50_ms=None, p95_ms=None)
    if len(samples) == 1:
        only = round(samples[0], 3)
        return schemas.LatencySummary(count=1, p50_ms=only, p95_ms=only)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return schemas.LatencySummary(
        count=len(samples), p50_ms=round(cuts[49], 3), p95_ms=round(cuts[94], 3)
    )


async def device_stats(
    session: AsyncSession, *, client_id: uuid.UUID, device_id: uuid.UUID, window: int, now: datetime
) -> schemas.DeviceStats:
    """Latency percentiles over the device's ``window`` most recent deliveries."""
    owned = await session.scalar(
        select(Device.id).where(Device.id == device_id, Device.client_id == client_id)
    )
    if owned is None:
        raise DeviceNotFound()
    rows = (
        await session.execute(
            select(Delivery, Signal.created_at)
            .join(Signal, Signal.id == Delivery.signal_id)
            .where(Delivery.device_id == device_id)
            .order_by(Delivery.signal_id.desc())
            .limit(window)
        )
    ).all()

    def ms(later: datetime | None, earlier: datetime | None) -> float | None:
        if later is None or earlier is None:
            return None
        return max(0.0, (later - earlier).total_seconds() * 1000)

    def collect(values: list[float | None]) -> list[float]:
        return [value for value in values if value is not None]

    return schemas.DeviceStats(
        device_id=device_id,
        window=len(rows),
        deliveries_by_status=dict(Counter(delivery_status(row.Delivery, now) for row in rows)),
        created_to_delivered=_summary(
            collect([ms(row.Delivery.delivered_at, row.created_at) for row in rows])
        ),
        delivered_to_acked=_summary(
            collect([ms(row.Delivery.acked_at, row.Delivery.delivered_at) for row in rows])
        ),
        created_to_acked=_summary(
            collect([ms(row.Delivery.acked_at, row.created_at) for row in rows])
        ),
    )


async def delivery_counts(session: AsyncSession, *, now: datetime) -> dict[str, int]:
    """Deliveries by status across all owners (for metrics), expiry derived as on read."""
    status = case(
        (and_(Delivery.status.in_(OPEN_STATUSES), Delivery.expires_at <= now), "expired"),
        else_=Delivery.status,
    )
    rows = await session.execute(select(status, func.count()).group_by(status))
    return {str(name): int(count) for name, count in rows.all()}


async def cancel_deliveries_of_device(
    session: AsyncSession, device_id: uuid.UUID, now: datetime
) -> None:
    """When a device is revoked: its deliveries not yet acknowledged are cancelled (SPEC 3)."""
    await cancel_open_deliveries(session, device_id=device_id, now=now)
