"""(6) Database writes per 1,000 polls: activity coalescing.

Every authenticated request moves ``last_seen_at`` (and a poll ``last_poll_at``). Written
as it happens, that is one UPDATE per poll; eagate records activity in memory and flushes one
batched UPDATE per interval (1 s). This counts what reaches the database, in process: the
real app (``create_app`` on a temporary SQLite database, lifespan running, so the flusher
runs on its real schedule), 100 provisioned devices, 1,000 signed polls spread evenly over
5 seconds through ``httpx.ASGITransport``; a SQLAlchemy ``before_cursor_execute`` listener
counts every INSERT, UPDATE and DELETE statement (and the rows an executemany carries),
including the flush at shutdown. Each device polls once before counting starts: a device's
first poll checks the database for deliveries (one claim UPDATE), after which an idle device
is answered from memory.

``details`` holds ``polls``, ``devices``, ``seconds``, ``write_statements``,
``activity_statements``, ``activity_rows``, ``other_writes``,
``write_statements_per_1000_polls``, ``activity_rows_per_1000_polls`` and ``flushes_expected``.
"""

from __future__ import annotations

import asyncio
import math
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, select

from bench import harness
from bench.provision import ProvisionedDevice, provision
from bench.report import figure, print_figures, result
from eagate.app import create_app
from eagate.devices.models import Device
from eagate.kit.migrate import upgrade_to_head
from eagate.kit.signing import signed_headers
from eagate.settings import Settings

NAME = "activity_writes"
POLL_TARGET = "/api/v1/device/poll?wait=0"
_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


class WriteCounter:
    """Counts write statements per (verb, table), and the parameter sets they carried."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()
        self.enabled = False

    def __call__(
        self,
        _connection: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not self.enabled:
            return
        match = _WRITE.match(statement)
        if match is None:
            return
        key = f"{match.group(1).split()[0].upper()} {match.group(2)}"
        self.statements[key] += 1
        self.rows[key] += len(parameters) if executemany else 1


def _headers(device: ProvisionedDevice) -> dict[str, str]:
    return signed_headers(
        secret=device.secret,
        device_id=str(device.id),
        method="GET",
        path_and_query=POLL_TARGET,
        timestamp=int(time.time()),
    )


async def _measure(settings: Settings, devices: int, polls: int, seconds: float) -> dict[str, Any]:
    provisioned = await provision(settings, owners=1, devices_per_owner=devices)
    fleet = provisioned.devices
    app = create_app(settings)
    runtime = app.fastapi.state.runtime
    counter = WriteCounter()
    event.listen(runtime.database.engine.sync_engine, "before_cursor_execute", counter)
    interval = runtime.settings.activity_flush_seconds
    statuses: Counter[int] = Counter()
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eagate.test") as http:
            # First polls: keys cached, each device checked once for deliveries.
            for device in fleet:
                statuses[(await http.get(POLL_TARGET, headers=_headers(device))).status_code] += 1
            await asyncio.sleep(interval * 1.5)  # their activity is flushed before counting
            warm_writes = runtime.activity.writes

            async def one_poll(device: ProvisionedDevice, headers: dict[str, str]) -> None:
                statuses[(await http.get(POLL_TARGET, headers=headers)).status_code] += 1

            # Signed in advance (the device's work), sent on an even schedule.
            plan = [(fleet[k % devices], _headers(fleet[k % devices])) for k in range(polls)]
            loop = asyncio.get_running_loop()
            counter.enabled = True
            started = loop.time()
            tasks = []
            for index, (device, headers) in enumerate(plan):
                delay = started + index * seconds / polls - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one_poll(device, headers)))
            await asyncio.gather(*tasks)
            polled_seconds = loop.time() - started
        # Leaving the lifespan flushes what the last interval recorded.
    activity_updates = runtime.activity.writes - warm_writes
    counter.enabled = False
    database = runtime.database
    async with database.transaction(read_only=True) as session:
        written = await session.scalar(
            select(func.count()).select_from(Device).where(Device.last_poll_at.is_not(None))
        )
    await database.dispose()

    total = sum(counter.statements.values())
    activity_statements = counter.statements.get("UPDATE devices", 0)
    activity_rows = counter.rows.get("UPDATE devices", 0)
    other = {k: v for k, v in counter.statements.items() if k != "UPDATE devices"}
    per_thousand = 1000 / polls
    return {
        "polls": polls,
        "devices": devices,
        "seconds": round(polled_seconds, 2),
        "flush_interval_seconds": interval,
        # Flusher ticks inside the window (a partial interval at each end) and the one at
        # shutdown: about one write per interval, whatever the number of polls.
        "flushes_expected": math.ceil(polled_seconds / interval) + 2,
        "statuses": {str(k): v for k, v in statuses.items()},
        "write_statements": total,
        "write_statements_by_kind": dict(counter.statements),
        "write_rows_by_kind": dict(counter.rows),
        "activity_statements": activity_statements,
        "activity_rows": activity_rows,
        "activity_rows_recorded_by_app": activity_updates,
        "other_writes": other,
        "write_statements_per_1000_polls": round(total * per_thousand, 1),
        "activity_rows_per_1000_polls": round(activity_rows * per_thousand, 1),
        "devices_with_last_poll_at": written,
    }


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    devices, polls, seconds = (20, 200, 2.0) if quick else (100, 1000, 5.0)
    with tempfile.TemporaryDirectory(prefix="eagate-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'eagate.db'}",
            env="test",
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            log_level="WARNING",
        )
        upgrade_to_head(settings.resolved_database_url)
        details = harness.run_async(_measure(settings, devices, polls, seconds))
    flushes = details["flushes_expected"]
    non_200 = sum(v for k, v in details["statuses"].items() if k != "200")
    figures = [
        figure(
            "database write statements per 1,000 polls",
            details["write_statements_per_1000_polls"],
            target=f"<= {flushes * 1000 / polls:g} (1 per {details['flush_interval_seconds']:g} s)",
            passed=details["write_statements"] <= flushes,
            note=f"{polls:,} polls by {devices} devices over {details['seconds']} s",
        ),
        figure(
            "rows updated per 1,000 polls",
            details["activity_rows_per_1000_polls"],
            target=f"<= {min(polls, devices * flushes) * 1000 / polls:g}",
            passed=details["activity_rows"] <= min(polls, devices * flushes),
            note="at most one per device per flush",
        ),
        figure("without coalescing (one UPDATE per poll)", 1000, "statements"),
        figure(
            "devices whose last_poll_at reached the database",
            details["devices_with_last_poll_at"],
            target=f"{devices}",
            passed=details["devices_with_last_poll_at"] == devices,
        ),
        figure("non-200 polls", non_200, target="0", passed=non_200 == 0),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details=details,
    )
    print_figures("(6) database writes per 1,000 polls", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
