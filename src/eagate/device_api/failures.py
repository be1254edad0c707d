"""``device.auth_failed`` audit events: one per device per minute, with a count.

An attacker hammering a device id must not flood the audit table, so failures are counted in
memory and written every few seconds into a single event per (device, minute). The event id
is derived from the device and the minute (and still sorts by time, like every UUIDv7 here),
so repeated flushes, and other instances, add to the same row instead of writing new ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from eagate.audit.models import AuditEvent
from eagate.clock import Clock
from eagate.db import Database, insert_ignoring_conflict

log = logging.getLogger("eagate.device_api")


def minute_event_id(device_id: uuid.UUID, minute: int) -> uuid.UUID:
    """A UUIDv7 whose time is the minute and whose random bits come from the device."""
    digest = int.from_bytes(hashlib.sha256(f"{device_id}:{minute}".encode()).digest()[:10])
    rand_a, rand_b = digest >> 68 & 0xFFF, digest & ((1 << 62) - 1)
    value = (minute * 60_000 << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


@dataclass
class _Tally:
    client_id: uuid.UUID
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
        minute = int(self._clock.time() // 60)
        tally = self._pending.setdefault((device_id, minute), _Tally(client_id))
        tally.count += 1
        tally.ip = ip
        tally.codes[code] += 1

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        async with self._database.transaction() as session:
            for (device_id, minute), tally in batch.items():
                event_id = minute_event_id(device_id, minute)
                detail = {"count": tally.count, "codes": dict(tally.codes)}
                inserted = await insert_ignoring_conflict(
                    session,
                    AuditEvent.__table__,  # type: ignore[arg-type]
                    {
                        "id": event_id,
                        "client_id": tally.client_id,
                        "at": datetime.fromtimestamp(minute * 60, UTC),
                        "action": "device.auth_failed",
                        "actor": f"device:{device_id}",
                        "device_id": device_id,
                        "ip": tally.ip,
                        "detail": detail,
                    },
                )
                if inserted:
                    continue
                event = await session.scalar(
                    select(AuditEvent).where(AuditEvent.id == event_id).with_for_update()
                )
                if event is None:  # the owner was deleted meanwhile
                    continue
                codes = Counter(event.detail.get("codes", {}))
                codes.update(tally.codes)
                event.detail = {
                    "count": event.detail.get("count", 0) + tally.count,
                    "codes": dict(codes),
                }
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
