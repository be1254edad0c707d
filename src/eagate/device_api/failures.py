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

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit import service as audit
from eagate.kit.clock import Clock
from eagate.kit.db import Database

log = logging.getLogger("eagate.device_api")

ACTION = "device.auth_failed"
# pg_advisory_xact_lock(int4, int4): this class id keeps these locks apart from any other.
_LOCK_CLASS = 0x65614641  # "eaFA"


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
        self.interval = interval
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
            for (device_id, _minute), tally in sorted(batch.items(), key=lambda item: item[0]):
                await self._add(session, device_id, tally)

    async def _add(self, session: AsyncSession, device_id: uuid.UUID, tally: _Tally) -> None:
        if not self._database.is_sqlite:
            await session.execute(
                select(func.pg_advisory_xact_lock(_LOCK_CLASS, _device_lock_key(device_id)))
            )
        await audit.count_in_minute(
            session,
            client_id=tally.client_id,
            action=ACTION,
            actor=audit.Actor(f"device:{device_id}", tally.ip),
            first_at=datetime.fromtimestamp(tally.first_at, UTC),
            count=tally.count,
            codes=tally.codes,
            device_id=device_id,
        )
