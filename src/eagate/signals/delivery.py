"""Getting signals to devices: the long-poll, leases, acks, cancellation.

``DeliveryHub`` is this process's memory of which devices may have work. A device known to
have nothing deliverable is answered without touching the database until a signal for it
commits (``announce``) or one of its leases runs out; that is what keeps the steady-state
poll of an idle terminal off the database entirely.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.kit.clock import Clock
from eagate.kit.db import Database, insert_ignoring_conflict
from eagate.signals.errors import AckConflict, SignalNotFound
from eagate.signals.models import OPEN_STATUSES, Ack, Delivery, Signal
from eagate.signals.schemas import AckRequest


class DeliveryHub:
    def __init__(self, *, max_idle_seconds: float | None = None) -> None:
        # With wake-ups arriving from other instances, a lost one must not leave a device
        # idle forever: past this, it re-checks the database (None: wake-ups are in-process).
        self.max_idle_seconds = max_idle_seconds
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
            if self.max_idle_seconds is not None:
                until = min(until, time.time() + self.max_idle_seconds)
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


def _deliverable(now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.expires_at > now,
        or_(
            Delivery.status == "pending",
            and_(Delivery.status == "delivered", Delivery.lease_until <= now),
        ),
    )


Claimed = tuple[list[Delivered], datetime | None]


async def claim_deliveries(
    session: AsyncSession,
    *,
    device_ids: Sequence[uuid.UUID],
    limit: int,
    lease_seconds: int,
    now: datetime,
) -> dict[uuid.UUID, Claimed]:
    """For each device, lease up to ``limit`` deliverable signals, oldest first; for a device
    with none, also say when its earliest outstanding lease runs out (the next time there may
    be some). One statement for any number of devices: a signal fanned out to a thousand
    long-polling terminals is claimed for all of them at once."""
    ranked = (
        select(
            Delivery.device_id,
            Delivery.signal_id,
            func.row_number()
            .over(partition_by=Delivery.device_id, order_by=Delivery.signal_id)
            .label("rank"),
        )
        .where(Delivery.device_id.in_(device_ids), _deliverable(now))
        .subquery()
    )
    chosen = select(ranked.c.device_id, ranked.c.signal_id).where(ranked.c.rank <= limit)
    # The predicate is repeated in the UPDATE so that two concurrent polls of one device
    # cannot both lease the same delivery (PostgreSQL re-checks it on the locked row).
    claimed = (
        await session.execute(
            update(Delivery)
            .where(tuple_(Delivery.device_id, Delivery.signal_id).in_(chosen), _deliverable(now))
            .values(
                status="delivered",
                attempts=Delivery.attempts + 1,
                lease_until=now + timedelta(seconds=lease_seconds),
                delivered_at=func.coalesce(Delivery.delivered_at, now),
            )
            .returning(Delivery.device_id, Delivery.signal_id, Delivery.attempts)
            .execution_options(synchronize_session=False)
        )
    ).all()
    signals = (
        {
            signal.id: signal
            for signal in await session.scalars(
                select(Signal).where(Signal.id.in_({row.signal_id for row in claimed}))
            )
        }
        if claimed
        else {}
    )
    result: dict[uuid.UUID, Claimed] = {device_id: ([], None) for device_id in device_ids}
    for row in sorted(claimed, key=lambda row: row.signal_id):
        result[row.device_id][0].append(Delivered(signals[row.signal_id], row.attempts))
    idle = [device_id for device_id, (delivered, _) in result.items() if not delivered]
    if idle:
        leases = await session.execute(
            select(Delivery.device_id, func.min(Delivery.lease_until))
            .where(
                Delivery.device_id.in_(idle),
                Delivery.status == "delivered",
                Delivery.expires_at > now,
            )
            .group_by(Delivery.device_id)
        )
        for device_id, next_lease_end in leases.all():
            result[device_id] = ([], next_lease_end)
    return result


class DeliveryClaimer:
    """Claims for long-polls, many devices to a statement, one transaction at a time.

    Claims asked for while a batch is in the database wait for it and then go together:
    a thousand terminals polling at once cost a handful of transactions, not a thousand
    writers queueing for SQLite's one write lock ahead of the signal they are waiting for.
    """

    def __init__(self, database: Database, clock: Clock, *, lease_seconds: int) -> None:
        self._database = database
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._queue: list[tuple[uuid.UUID, int, asyncio.Future[Claimed]]] = []
        self._worker: asyncio.Task[None] | None = None  # the loop holds tasks weakly

    async def claim(self, device_id: uuid.UUID, limit: int) -> Claimed:
        future: asyncio.Future[Claimed] = asyncio.get_running_loop().create_future()
        self._queue.append((device_id, limit, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # let the claims of this event-loop tick join the batch
            batch, self._queue = self._queue, []
            by_limit: dict[int, list[tuple[uuid.UUID, asyncio.Future[Claimed]]]] = {}
            for device_id, limit, future in batch:
                if not future.done():  # its long-poll may have ended meanwhile
                    by_limit.setdefault(limit, []).append((device_id, future))
            for limit, waiters in by_limit.items():
                await self._claim(limit, waiters)

    async def _claim(
        self, limit: int, waiters: list[tuple[uuid.UUID, asyncio.Future[Claimed]]]
    ) -> None:
        try:
            async with self._database.transaction() as session:
                claimed = await claim_deliveries(
                    session,
                    device_ids=list(dict.fromkeys(device_id for device_id, _ in waiters)),
                    limit=limit,
                    lease_seconds=self._lease_seconds,
                    now=self._clock.now(),
                )
        except Exception as exc:  # every waiter hears of it
            for _, future in waiters:
                if not future.done():
                    future.set_exception(exc)
            return
        handed: set[uuid.UUID] = set()
        for device_id, future in waiters:
            if future.done():
                continue
            # Two long-polls of one device in one batch: the first gets the signals.
            delivered, next_lease_end = claimed[device_id]
            future.set_result(([], next_lease_end) if device_id in handed else claimed[device_id])
            if delivered:
                handed.add(device_id)


async def poll(
    *,
    claimer: DeliveryClaimer,
    hub: DeliveryHub,
    clock: Clock,
    device_id: uuid.UUID,
    wait: float,
    limit: int,
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
                delivered, next_lease_end = await claimer.claim(device_id, limit)
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
