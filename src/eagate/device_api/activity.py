"""Coalesced device activity: last_poll_at, last_ack_at, last_seen_at.

Writing three timestamps on every request would make the database the bottleneck of the
hot path. Requests record into memory; a background task writes one batched UPDATE per
interval (1 s by default: the owner API sees activity well within SPEC's 5 s), and the
lifespan's shutdown flushes what is left, so a graceful stop loses nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, or_, update

from eagate.devices.models import Device
from eagate.kit.db import Database, UTCDateTime

log = logging.getLogger("eagate.device_api")

_FIELDS = ("last_seen_at", "last_poll_at", "last_ack_at")


def _latest(column: Any, param: str) -> ColumnElement[Any]:
    # Never move a timestamp backwards: another instance may have flushed a later one.
    value = bindparam(param, type_=UTCDateTime())
    return case(
        (value.is_(None), column),
        (or_(column.is_(None), column < value), value),
        else_=column,
    )


_FLUSH = (
    update(Device.__table__)  # type: ignore[arg-type]
    .where(Device.__table__.c.id == bindparam("device_id"))
    .values({field: _latest(Device.__table__.c[field], f"new_{field}") for field in _FIELDS})
)


def _datetime(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


class ActivityRecorder:
    def __init__(self, database: Database, *, interval: float) -> None:
        self._database = database
        self.interval = interval
        # Unix seconds as floats: cheaper on the hot path than datetimes, converted at flush.
        self._pending: dict[uuid.UUID, list[float | None]] = {}
        self.writes = 0  # UPDATE statements executed (one per device per flush): for benchmarks

    def record(
        self, device_id: uuid.UUID, at: float, *, poll: bool = False, ack: bool = False
    ) -> None:
        entry = self._pending.get(device_id)
        if entry is None:
            self._pending[device_id] = [at, at if poll else None, at if ack else None]
            return
        entry[0] = at
        if poll:
            entry[1] = at
        if ack:
            entry[2] = at

    async def flush(self) -> int:
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        rows = [
            {
                "device_id": device_id,
                **{f"new_{f}": _datetime(v) for f, v in zip(_FIELDS, values, strict=True)},
            }
            for device_id, values in batch.items()
        ]
        try:
            async with self._database.transaction() as session:
                await session.execute(_FLUSH, rows)
        except Exception:
            # Keep what we could not write; newer values recorded meanwhile win.
            for device_id, values in batch.items():
                current = self._pending.setdefault(device_id, values)
                for i, value in enumerate(values):
                    if current[i] is None:
                        current[i] = value
            raise
        self.writes += len(rows)
        return len(rows)
