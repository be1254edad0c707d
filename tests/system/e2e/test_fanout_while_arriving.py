"""A signal created while a fleet's long-polls are still arriving reaches every device at once.

The defect this guards against: 1,000 terminals opened their long-polls and a signal was
created while their first claims were still running. On SQLite every claim and the signal
are writers queueing for the one write lock; left to SQLite's busy handler, the signal's
transaction lost that lottery for seconds, and devices heard of it only when their long-polls
ran out, 20 s late. Writers now take turns in arrival order and claims go many devices to a
transaction, so the signal commits behind the claims already waiting and wakes every poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from bench.harness import PASSWORD, raise_open_files_limit
from bench.provision import provision
from bench.rawhttp import Connection, json_request, open_many, signed_request

from eagate.kit.migrate import upgrade_to_head
from eagate.settings import Settings
from tests.fixtures.databases import fresh_postgres_database
from tests.fixtures.servers import ServerProcess, eagate_serve

DEVICES = 2000
WAIT_SECONDS = 30
# "Long before its wait ends": a lost wake-up shows as a poll answered only at its deadline
# (30 s); a device served by the wake-up has the signal within a fraction of a second (see
# bench/delivery_latency.py for the measured figure). A sixth of the wait leaves room for a
# loaded machine without letting a timed-out poll pass.
DEADLINE_SECONDS = WAIT_SECONDS / 6
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@contextmanager
def database(backend: str, data_dir: Path) -> Iterator[dict[str, str]]:
    """A migrated database; the settings that point `eagate serve` at it."""
    if backend == "sqlite":
        upgrade_to_head(Settings(data_dir=data_dir).resolved_database_url)
        yield {}
        return
    with fresh_postgres_database() as url:
        yield {"EAGATE_DATABASE_URL": url}


def sign_in(server: ServerProcess, email: str) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={"username": email, "password": PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_signal_created_while_long_polls_arrive_reaches_every_device_at_once(
    backend: str, tmp_path: Path
) -> None:
    raise_open_files_limit()  # 2,000 connections on each side; the server inherits it
    data_dir = tmp_path / "data"
    with database(backend, data_dir) as settings:
        provisioned = asyncio.run(
            provision(
                Settings(data_dir=data_dir, database_url=settings.get("EAGATE_DATABASE_URL")),
                owners=1,
                devices_per_owner=DEVICES,
            )
        )
        owner = provisioned.owners[0]
        with eagate_serve(data_dir, **settings) as server:
            token = sign_in(server, owner.email)
            host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
            authority = f"{host}:{port}"

            async def fan_out() -> tuple[str, list[float], list[str]]:
                connections, errors = await open_many(host, port, DEVICES)
                assert not errors, errors[:3]
                sender = await Connection.open(host, port)
                try:
                    # Every long-poll is sent at once, cold (no key cached, nothing known to
                    # be idle), and the signal right behind them: it is created while the
                    # server is still taking the polls in.
                    for connection, device in zip(connections, provisioned.devices, strict=True):
                        connection.send(
                            signed_request(
                                device_id=str(device.id),
                                secret=device.secret,
                                method="GET",
                                target=f"/api/v1/device/poll?wait={WAIT_SECONDS}",
                                host=authority,
                            )
                        )
                    polls = [asyncio.ensure_future(c.read_response()) for c in connections]
                    sent = time.perf_counter()
                    created = await sender.request(
                        json_request(
                            "POST",
                            "/api/v1/signals",
                            host=authority,
                            token=token,
                            payload={"instrument": "EURUSD", "side": "buy", "volume": 0.1},
                        )
                    )
                    assert created.status == 201, created.body
                    signal_id: str = created.json()["id"]
                    async with asyncio.timeout(WAIT_SECONDS + 30):
                        answers = await asyncio.gather(*polls)
                finally:
                    await asyncio.gather(sender.close(), *(c.close() for c in connections))
                arrivals, problems = [], []
                for device, answer in zip(provisioned.devices, answers, strict=True):
                    signals = answer.json()["signals"] if answer.status == 200 else []
                    if [s["signal_id"] for s in signals] != [signal_id]:
                        problems.append(f"{device.id}: {answer.status} {answer.body[:120]!r}")
                    arrivals.append(answer.received_at - sent)
                return signal_id, arrivals, problems

            _, arrivals, problems = asyncio.run(fan_out())

    assert problems == [], problems[:5]
    late = sorted(arrival for arrival in arrivals if arrival > DEADLINE_SECONDS)
    assert late == [], (
        f"{len(late)} of {DEVICES} devices had the signal only {late[0]:.1f}-{late[-1]:.1f} s "
        f"after it was sent (their long-polls wait {WAIT_SECONDS} s)"
    )
