"""``device.auth_failed`` audit events: one per device per minute, with a count.

An attacker hammering a device id must not flood the audit table, so failures are counted in
memory and written every few seconds into a single event per (device, minute). The event is
stamped (``at``, and the time in its UUIDv7 id, by which the trail is ordered) with the first
failure's time, so it sorts after the act that caused it (a rotation, a revocation), not at
the start of its minute. Later flushes, and other instances, find the minute's event by its id
range and add to it; flushes for one device take turns (one write transaction at a time on
SQLite, a transaction-scoped advisory lock per device on PostgreSQL), so there is one event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit.models import AuditEvent
from eagate.clock import Clock
from eagate.db import Database
from eagate.ids import uuid7_at

log = logging.getLogger("eagate.device_api")

ACTION = "device.auth_failed"
# pg_advisory_xact_lock(int4, int4): this class id keeps these locks apart from any other.
_LOCK_CLASS = 0x65614641  # "eaFA"


def minute_id_range(minute: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The UUIDv7 ids whose time falls in ``minute`` (unix minutes): [low, high)."""
    return uuid.UUID(int=minute * 60_000 << 80), uuid.UUID(int=(minute + 1) * 60_000 << 80)


def _device_lock_key(device_id: uuid.UUID) -> int:
    return int.from_bytes(device_id.bytes[-4:], signed=True)


@dataclass
class _Tally:
    client_id: uuid.UUID
    first_at: float  # unix seconds of the first failure counted in this minute
    count: int = 0
    ip: str | None = None
    codes: Counter[str] = field(default_factory=Counter)


class AuthFailureLog:
    def __init__(self, database: Database, clock: Clock, *, interval: float = 5.0) -> None:
        self._database = database
        self._clock = clock
        self._interval = interval
        self._pending: dict[tuple[uuid.UUID, int], _Tally] = {}

    def record(
        self, *, device_id: uuid.UUID, client_id: uuid.UUID, ip: str | None, code: str
    ) -> None:
        now = self._clock.time()
        minute = int(now // 60)
        tally = self._pending.setdefault((device_id, minute), _Tally(client_id, first_at=now))
        tally.count += 1
        tally.ip = ip
        tally.codes[code] += 1

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        async with self._database.transaction() as session:
            # One order for the per-device locks, so two flushers never deadlock.
            for (device_id, minute), tally in sorted(batch.items(), key=lambda item: item[0]):
                await self._add(session, device_id, minute, tally)

    async def _add(
        self, session: AsyncSession, device_id: uuid.UUID, minute: int, tally: _Tally
    ) -> None:
        if not self._database.is_sqlite:
            await session.execute(
                select(func.pg_advisory_xact_lock(_LOCK_CLASS, _device_lock_key(device_id)))
            )
        low, high = minute_id_range(minute)
        event = await session.scalar(
            select(AuditEvent)
            .where(
                AuditEvent.client_id == tally.client_id,
                AuditEvent.device_id == device_id,
                AuditEvent.id >= low,
                AuditEvent.id < high,
                AuditEvent.action == ACTION,
            )
            .order_by(AuditEvent.id)
            .limit(1)
        )
        if event is None:
            session.add(
                AuditEvent(
                    id=uuid7_at(int(tally.first_at * 1000)),
                    client_id=tally.client_id,
                    at=datetime.fromtimestamp(tally.first_at, UTC),
                    action=ACTION,
                    actor=f"device:{device_id}",
                    device_id=device_id,
                    ip=tally.ip,
                    detail={"count": tally.count, "codes": dict(tally.codes)},
                )
            )
            return
        codes = Counter(event.detail.get("codes", {}))
        codes.update(tally.codes)
        event.detail = {"count": event.detail.get("count", 0) + tally.count, "codes": dict(codes)}
        event.ip = tally.ip

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing device.auth_failed events failed")
