"""Crash safety: a server killed with SIGKILL at random moments loses and duplicates nothing.

A real `eagate serve` process (over PostgreSQL, and over SQLite) serves three simulated EAs
(the device SDK, long-polling) while the owner sends 300 signals, each to all three devices.
The server is killed with SIGKILL three times, at moments drawn from a seeded random.Random
(the seed is printed; set EAGATE_TEST_CRASH_SEED to replay one), and restarted on the same port
and data directory. Each EA keeps a ledger of the orders it executed (signal id -> ticket),
executes a signal only if it is not in its ledger yet (as a real EA keeps its orders), and acks
it `placed`, retrying the ack until the server takes it.

At the end: exactly 300 signals exist, each EA executed each of them once, every delivery is
`placed` with its EA's ticket, and no EA was ever handed a signal it had already acked.
Deliveries that needed more than one attempt (redelivered after a lease, at-least-once) are
counted and printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from eagate.client import DeviceClient, DeviceConnectionError, ServerError
from tests.fixtures.api import API
from tests.fixtures.databases import fresh_postgres_database
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_email, new_owner
from tests.fixtures.servers import ServerProcess, free_port, server_environment, wait_ready

pytestmark = pytest.mark.slow

SIGNALS = 300
BATCH = 10
KILLS = 3
DEVICES = ("ea1", "ea2", "ea3")
LEASE_SECONDS = 3
DEADLINE_SECONDS = 120
SIGNAL = {"instrument": "EURUSD", "side": "buy", "volume": 0.1}
# The owner's and the EAs' requests meet a dead server: these mean "try again".
UNREACHABLE = (httpx.TransportError, DeviceConnectionError)


class RestartableServer:
    """`python -m eagate serve` on a fixed port and data directory, that can be SIGKILLed and
    started again in the same place (tests.fixtures.servers.eagate_serve picks a new port each
    time)."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_environment(data_dir, **settings)
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        log_path = self.data_dir / f"server-{self.starts}.log"
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "eagate", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_ready(ServerProcess(self.url, self.process, log_path), timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return "\n".join(
            (self.data_dir / f"server-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def server_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings of a server over a fresh database (SQLite: the default, in the data dir)."""
    settings = {"EAGATE_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS), "EAGATE_LOG_LEVEL": "WARNING"}
    if request.param == "sqlite":
        yield settings
        return
    with fresh_postgres_database() as url:
        yield {**settings, "EAGATE_DATABASE_URL": url}


@dataclass
class Ea:
    """One simulated Expert Advisor and what it did."""

    name: str
    client: DeviceClient
    progress: asyncio.Condition
    ledger: dict[str, str] = field(default_factory=dict)  # signal id -> ticket
    acked: set[str] = field(default_factory=set)
    handed_after_ack: list[str] = field(default_factory=list)
    redeliveries_dropped: int = 0
    unreachable: int = 0
    server_errors: list[str] = field(default_factory=list)

    def ticket(self, signal_id: str) -> str:
        return f"{self.name}-{signal_id}"  # <= 64 chars: the name, not the device's id

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                polled = await self.client.poll(wait=2, limit=100)
            except UNREACHABLE:
                self.unreachable += 1
                await asyncio.sleep(0.1)
                continue
            except ServerError as error:
                self.server_errors.append(f"poll: {error}")
                await asyncio.sleep(0.1)
                continue
            self.redeliveries_dropped += polled.duplicates_dropped
            for order in polled.signals:
                signal_id = str(order.signal_id)
                if signal_id in self.acked:
                    self.handed_after_ack.append(signal_id)
                if signal_id not in self.ledger:  # the EA's own dedup: an order is kept
                    self.ledger[signal_id] = self.ticket(signal_id)
                await self.ack(signal_id)

    async def ack(self, signal_id: str) -> None:
        """Acknowledge with the ticket of the order executed; until the server takes it."""
        while True:
            try:
                result = await self.client.ack(signal_id, "placed", self.ledger[signal_id])
            except UNREACHABLE:
                self.unreachable += 1
                await asyncio.sleep(0.1)
                continue
            except ServerError as error:
                self.server_errors.append(f"ack: {error}")
                await asyncio.sleep(0.1)
                continue
            assert result.broker_ticket == self.ledger[signal_id]
            self.acked.add(signal_id)
            async with self.progress:
                self.progress.notify_all()
            # The SDK drops signals it has handed out before; forgetting an acked one lets a
            # wrongful redelivery of it reach handed_after_ack above.
            self.client.forget(signal_id)
            return


@dataclass
class Owner:
    http: httpx.AsyncClient
    headers: dict[str, str]
    seed: int
    device_ids: list[str]
    progress: asyncio.Condition
    sent: dict[int, str] = field(default_factory=dict)  # signal number -> id
    unreachable: int = 0
    server_errors: list[str] = field(default_factory=list)

    async def send(self, number: int) -> None:
        """Create signal `number`, retrying with its Idempotency-Key until it is created."""
        headers = {**self.headers, "Idempotency-Key": f"crash-{self.seed}-{number}"}
        body = {**SIGNAL, "comment": f"signal {number}", "device_ids": self.device_ids}
        while True:
            try:
                response = await self.http.post(f"{API}/signals", json=body, headers=headers)
            except httpx.TransportError:
                self.unreachable += 1
                await asyncio.sleep(0.1)
                continue
            if response.status_code >= 500:
                self.server_errors.append(f"POST /signals: {response.status_code} {response.text}")
                await asyncio.sleep(0.1)
                continue
            assert response.status_code == 201, response.text
            self.sent[number] = response.json()["id"]
            async with self.progress:
                self.progress.notify_all()
            return

    async def get(self, url: str) -> httpx.Response:
        while True:
            try:
                response = await self.http.get(url, headers=self.headers)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            assert response.status_code == 200, response.text
            return response

    async def all_signals(self) -> list[dict[str, Any]]:
        """Every signal, following the Link header 200 at a time."""
        signals: list[dict[str, Any]] = []
        url: str | None = f"{API}/signals?limit=200"
        while url is not None:
            response = await self.get(url)
            signals += response.json()
            url = response.links.get("next", {}).get("url")
        return signals


async def kill_and_restart(
    server: RestartableServer, owner: Owner, moments: list[tuple[int, float]]
) -> None:
    """SIGKILL the server once `owner` has sent so many signals, plus a fraction of a second
    (both drawn beforehand), and start it again at once."""
    for count, extra_delay in moments:
        async with owner.progress:
            await owner.progress.wait_for(lambda: len(owner.sent) >= count)  # noqa: B023
        await asyncio.sleep(extra_delay)
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)


async def test_sigkill_loses_and_duplicates_nothing(
    server_settings: dict[str, str], tmp_path: Path
) -> None:
    seed = int(os.environ.get("EAGATE_TEST_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash seed: {seed} (EAGATE_TEST_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    kills = sorted(rng.sample(range(BATCH, SIGNALS - BATCH), KILLS))
    moments = [(count, rng.uniform(0, 0.5)) for count in kills]

    server = RestartableServer(tmp_path / "data", **server_settings)
    await asyncio.to_thread(server.start)
    stop = asyncio.Event()
    eas: list[Ea] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            signed_up = await new_owner(http, new_email("crash"))
            devices = [await register_device(http, signed_up, name) for name in DEVICES]
            progress = asyncio.Condition()
            owner = Owner(
                http, signed_up.headers, seed, [device["id"] for device in devices], progress
            )
            eas = [
                Ea(
                    name,
                    DeviceClient(server.url, device["id"], device["secret"], max_retries=0),
                    progress,
                )
                for name, device in zip(DEVICES, devices, strict=True)
            ]
            running = [asyncio.create_task(ea.run(stop)) for ea in eas]
            killer = asyncio.create_task(kill_and_restart(server, owner, moments))
            tasks = [*running, killer]

            started = time.monotonic()
            for first in range(0, SIGNALS, BATCH):
                await asyncio.gather(*(owner.send(n) for n in range(first, first + BATCH)))
                await asyncio.sleep(0.02)
            await killer
            sent_ids = set(owner.sent.values())
            assert len(sent_ids) == SIGNALS, "two signal numbers were answered the same id"

            remaining = started + DEADLINE_SECONDS - time.monotonic()
            async with progress:
                # On timeout the assertions below tell what is missing.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        progress.wait_for(lambda: all(ea.acked == sent_ids for ea in eas)),
                        timeout=max(remaining, 1),
                    )
            stop.set()
            # An EA still retrying an ack when the deadline passed would never stop by itself.
            _, stuck = await asyncio.wait(running, timeout=10)
            for task in stuck:
                task.cancel()
            for task in running:
                if not task.cancelled():
                    task.result()  # an EA's own failure (an unexpected answer) surfaces here

            signals = await owner.all_signals()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ea in eas:
            await ea.client.aclose()
        await asyncio.to_thread(server.stop)

    names = {device["id"]: name for device, name in zip(devices, DEVICES, strict=True)}
    redelivered = Counter(
        names[delivery["device_id"]]
        for signal_ in signals
        for delivery in signal_["deliveries"]
        if delivery["attempts"] > 1
    )
    dropped = {ea.name: ea.redeliveries_dropped for ea in eas}
    unreachable = {"owner": owner.unreachable, **{ea.name: ea.unreachable for ea in eas}}
    print(
        f"server starts: {server.starts}; signals: {len(signals)}; deliveries with attempts > 1 "
        f"per EA: {dict(redelivered)}; redeliveries the SDK dropped as already seen: {dropped}; "
        f"requests that met a dead server: {unreachable}"
    )
    context = f"seed {seed}; server logs:\n{server.logs()[-5000:]}"
    assert server.starts == 1 + KILLS
    assert not owner.server_errors, context
    assert not [ea.server_errors for ea in eas if ea.server_errors], context
    assert sorted(s["id"] for s in signals) == sorted(sent_ids), context
    assert len(signals) == SIGNALS
    for ea in eas:
        assert set(ea.ledger) == sent_ids, f"{ea.name} missed orders; {context}"
        assert ea.acked == sent_ids, f"{ea.name}: acks outstanding; {context}"
        assert not ea.handed_after_ack, f"{ea.name} was handed acked signals; {context}"
    for signal_ in signals:
        deliveries = {d["device_id"]: d for d in signal_["deliveries"]}
        assert deliveries.keys() == names.keys(), signal_
        for device_id, delivery in deliveries.items():
            assert delivery["status"] == "placed", signal_
            assert delivery["broker_ticket"] == f"{names[device_id]}-{signal_['id']}", signal_
