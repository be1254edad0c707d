"""At-least-once delivery against a real server: a lease runs out, the signal comes again
with the next attempt number, and the SDK hands it to the EA once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from eagate.client import DeviceClient
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.servers import ServerProcess, serve
from tests.fixtures.signals import create_signal

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2


@pytest.fixture(scope="module")
def lease_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp(f"lease-{backend}")
    with serve(backend, data_dir, EAGATE_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS)) as server:
        yield server


def device_client(server: ServerProcess, device: dict[str, Any]) -> DeviceClient:
    return DeviceClient(server.url, device["id"], device["secret"], timeout=10)


async def test_unacked_signal_comes_again_after_the_lease_and_the_sdk_drops_it(
    lease_server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=lease_server.url, timeout=10) as http:
        owner = await new_owner(http)
        device = await register_device(http, owner)
        signal = await create_signal(http, owner, device["id"], volume=0.25)
        handed_to_ea = []

        # Two SDK instances for one device: `ea` is the terminal; `fresh` has no memory of
        # what was handed out, so it shows what the server sends.
        async with (
            device_client(lease_server, device) as ea,
            device_client(lease_server, device) as fresh,
        ):
            first = await ea.poll(wait=0)
            handed_to_ea += first.signals
            [received] = first.signals
            assert str(received.signal_id) == signal["id"]
            assert received.attempt == 1
            assert str(received.volume) == "0.25"

            # Leased: nobody gets it again before the lease runs out...
            assert (await fresh.poll(wait=0)).signals == []
            # ...and a long-poll open meanwhile returns as soon as it does.
            started = time.monotonic()
            redelivered = await fresh.poll(wait=15)
            elapsed = time.monotonic() - started
            [again] = redelivered.signals
            assert again.signal_id == received.signal_id
            assert again.attempt == 2
            assert 0.5 < elapsed < LEASE_SECONDS + 3, elapsed

            # The EA's next poll: the server delivers it once more (attempt 3, once attempt
            # 2's lease runs out), and the SDK drops it as already handed out.
            started = time.monotonic()
            duplicate = await ea.poll(wait=15)
            elapsed = time.monotonic() - started
            handed_to_ea += duplicate.signals
            assert duplicate.signals == []
            assert duplicate.duplicates_dropped == 1
            assert elapsed < LEASE_SECONDS + 3, elapsed

            ack = await ea.ack(received.signal_id, "placed", broker_ticket="501234567")
            assert ack.status == "placed"

            # Acknowledged: nothing comes again, not even after another lease.
            after = await ea.poll(wait=LEASE_SECONDS + 1)
            handed_to_ea += after.signals
            assert (after.signals, after.duplicates_dropped) == ([], 0)

        assert [s.signal_id for s in handed_to_ea] == [received.signal_id]
        view = await http.get(f"/api/v1/signals/{signal['id']}", headers=owner.headers)
        [delivery] = view.json()["deliveries"]
        assert delivery["status"] == "placed"
        assert delivery["attempts"] == 3
        assert delivery["broker_ticket"] == "501234567"
