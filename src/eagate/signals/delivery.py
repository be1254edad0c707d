"""Getting signals to devices: the long-poll, leases, acks, cancellation.

``DeliveryHub`` is this process's memory of which devices may have work. A device known to
have nothing deliverable is answered without touching the database until a signal for it
commits (``announce``) or one of its leases runs out; that is what keeps the steady-state
poll of an idle terminal off the database entirely.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.clock import Clock
from eagate.db import Database, insert_ignoring_conflict
from eagate.signals.errors import AckConflict, SignalNotFound
from eagate.signals.models import OPEN_STATUSES, Ack, Delivery, Signal
from eagate.signals.schemas import AckRequest


class DeliveryHub:
    def __init__(self) -> None:
        self._versions: dict[uuid.UUID, int] = {}
        self._idle_until: dict[uuid.UUID, float] = {}
        self._listeners: dict[uuid.UUID, set[asyncio.Event]] = {}

    def announce(self, device_ids: Sequence[uuid.UUID]) -> None:
        """New work for these devices has committed: wake their long-polls."""
        for device_id in device_ids:
            self._versions[device_id] = self._versions.get(device_id, 0) + 1
            self._idle_until.pop(device_id, None)
            for event in self._listeners.get(device_id, ()):
                event.set()

    def forget_idle(self) -> None:
        """Wake-ups may have been missed: every device re-checks the database once."""
        self._idle_until.clear()
        for device_id in list(self._listeners):
            self.announce([device_id])

    def version(self, device_id: uuid.UUID) -> int:
        return self._versions.get(device_id, 0)

    def mark_idle(self, device_id: uuid.UUID, *, version: int, until: float) -> None:
        """Nothing is deliverable before ``until``, unless announced since ``version``."""
        if self._versions.get(device_id, 0) == version:
            self._idle_until[device_id] = until

    def idle_until(self, device_id: uuid.UUID) -> float:
        return self._idle_until.get(device_id, 0.0)

    @property
    def long_polls(self) -> int:
        return sum(len(events) for events in self._listeners.values())

    @contextmanager
    def listening(self, device_id: uuid.UUID) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._listeners.setdefault(device_id, set()).add(event)
        try:
            yield event
        finally:
            listeners = self._listeners.get(device_id)
            if listeners is not None:
                listeners.discard(event)
                if not listeners:
                    del self._listeners[device_id]


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    """Return when any event is set, or after ``seconds``."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@dataclass(frozen=True, slots=True)
class Delivered:
    signal: Signal
    attempt: int


def _deliverable(device_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.device_id == device_id,
        Delivery.expires_at > now,
        or_(
            Delivery.status == "pending",
            and_(Delivery.status == "delivered", Delivery.lease_until <= now),
        ),
    )


async def claim_deliveries(
    session: AsyncSession,
    *,
    device_id: uuid.UUID,
    limit: int,
    lease_seconds: int,
    now: datetime,
) -> tuple[list[Delivered], datetime | None]:
    """Lease up to ``limit`` deliverable signals, oldest first. If there are none, also
    return when the earliest outstanding lease runs out (the next time there may be)."""
    candidates = (
        select(Delivery.signal_id)
        .where(_deliverable(device_id, now))
        .order_by(Delivery.signal_id)
        .limit(limit)
        .scalar_subquery()
    )
    # The predicate is repeated in the UPDATE so that two concurrent polls of one device
    # cannot both lease the same delivery (PostgreSQL re-checks it on the locked row).
    claimed = (
        await session.execute(
            update(Delivery)
            .where(Delivery.signal_id.in_(candidates), _deliverable(device_id, now))
            .values(
                status="delivered",
                attempts=Delivery.attempts + 1,
                lease_until=now + timedelta(seconds=lease_seconds),
                delivered_at=func.coalesce(Delivery.delivered_at, now),
            )
            .returning(Delivery.signal_id, Delivery.attempts)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        next_lease_end = await session.scalar(
            select(func.min(Delivery.lease_until)).where(
                Delivery.device_id == device_id,
                Delivery.status == "delivered",
                Delivery.expires_at > now,
            )
        )
        return [], next_lease_end
    attempts = {row.signal_id: row.attempts for row in claimed}
    signals = await session.scalars(
        select(Signal).where(Signal.id.in_(attempts)).order_by(Signal.id)
    )
    return [Delivered(signal, attempts[signal.id]) for signal in signals], None


async def poll(
    *,
    database: Database,
    hub: DeliveryHub,
    clock: Clock,
    device_id: uuid.UUID,
    wait: float,
    limit: int,
    lease_seconds: int,
    gone: asyncio.Event | None = None,
) -> list[Delivered]:
    """Signals for the device now, or as soon as one arrives within ``wait`` seconds.

    ``gone`` is set when the client disconnects: a long-poll nobody listens to any more
    must not lease signals (they would wait out the lease before reaching the device).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    with hub.listening(device_id) as woken:
        while True:
            if gone is not None and gone.is_set():
                return []
            now = clock.now()
            if hub.idle_until(device_id) <= now.timestamp():
                version = hub.version(device_id)
                woken.clear()
                async with database.transaction() as session:
                    delivered, next_lease_end = await claim_deliveries(
                        session,
                        device_id=device_id,
                        limit=limit,
                        lease_seconds=lease_seconds,
                        now=now,
                    )
                if delivered:
                    return delivered
                hub.mark_idle(
                    device_id,
                    version=version,
                    until=next_lease_end.timestamp() if next_lease_end else math.inf,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            until_lease = hub.idle_until(device_id) - clock.time()
            timeout = max(0.0, min(remaining, until_lease))
            if gone is None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=timeout)
            else:
                await _first_of(woken, gone, seconds=timeout)


async def record_ack(
    session: AsyncSession, *, device_id: uuid.UUID, ack: AckRequest, now: datetime
) -> Ack:
    """Store the device's word on a signal: once; an identical repeat returns the first."""
    delivery = await session.get(Delivery, (ack.signal_id, device_id))
    if delivery is None:
        raise SignalNotFound()
    values = {
        "signal_id": ack.signal_id,
        "device_id": device_id,
        "status": ack.status,
        "broker_ticket": ack.broker_ticket,
        "error": ack.error,
        "executed_at": ack.executed_at,
        "recorded_at": now,
    }
    if not await insert_ignoring_conflict(session, Ack.__table__, values):  # type: ignore[arg-type]
        existing = await session.get(Ack, (ack.signal_id, device_id), populate_existing=True)
        assert existing is not None
        same = (existing.status, existing.broker_ticket, existing.error) == (
            ack.status,
            ack.broker_ticket,
            ack.error,
        )
        if not same:
            raise AckConflict(f"this signal was already acknowledged as {existing.status}")
        return existing
    # The terminal's word is the truth, even for a delivery that expired or was cancelled.
    delivery.status = ack.status
    delivery.acked_at = now
    delivery.lease_until = None
    delivery.broker_ticket = ack.broker_ticket
    delivery.error = ack.error
    await session.flush()
    return Ack(**values)


async def cancel_open_deliveries(
    session: AsyncSession,
    *,
    now: datetime,
    signal_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
) -> None:
    """Deliveries not yet acknowledged (pending or delivered) become cancelled; those that
    have already expired stay expired (they ended before the cancellation)."""
    conditions: list[ColumnElement[bool]] = [
        Delivery.status.in_(OPEN_STATUSES),
        Delivery.expires_at > now,
    ]
    if signal_id is not None:
        conditions.append(Delivery.signal_id == signal_id)
    if device_id is not None:
        conditions.append(Delivery.device_id == device_id)
    await session.execute(
        update(Delivery)
        .where(*conditions)
        .values(status="cancelled", lease_until=None)
        .execution_options(synchronize_session=False)
    )
