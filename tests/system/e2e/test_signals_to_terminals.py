"""Signals to terminals, end to end: a real server, two simulated EAs and the owner's CLI,
each its own process."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.devices import register_device
from tests.fixtures.owners import PASSWORD, new_owner
from tests.fixtures.processes import eagate, simulated_ea, until
from tests.fixtures.servers import ServerProcess

pytestmark = pytest.mark.slow

# The EAs long-poll with wait=25: a signal acknowledged well inside that reached them through
# the long-poll waking on the signal's commit, not through a poll that timed out and came back.
DELIVERY_DEADLINE = 10.0


async def test_signal_reaches_two_terminals_and_their_acks_reach_the_owner(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        owner = await new_owner(http)
        devices = [await register_device(http, owner, name) for name in ("Desk A", "Desk B")]
        ids = [device["id"] for device in devices]

        with (
            simulated_ea(server.url, devices[0], tmp_path) as ea_a,
            simulated_ea(server.url, devices[1], tmp_path) as ea_b,
        ):
            for ea in (ea_a, ea_b):
                await ea.wait_for_output("connected as", within=30)

            sent = await eagate(
                "signals", "send", "--url", server.url, "--email", owner.email,
                "--instrument", "XAUUSD", "--side", "sell", "--volume", "0.1",
                "--sl", "2412.35", "--tp", "2380.1", "--comment", "e2e",
                "--device-id", ids[0], "--device-id", ids[1], "--json",
                env={"EAGATE_OWNER_PASSWORD": PASSWORD},
            )  # fmt: skip
            assert sent.returncode == 0, sent.stderr
            assert PASSWORD not in sent.stdout + sent.stderr
            signal = json.loads(sent.stdout)
            assert (signal["instrument"], signal["side"], signal["order_type"]) == (
                "XAUUSD",
                "sell",
                "market",
            )
            assert (signal["volume"], signal["sl"], signal["tp"]) == (0.1, 2412.35, 2380.1)
            assert sorted(d["device_id"] for d in signal["deliveries"]) == sorted(ids)
            assert {d["status"] for d in signal["deliveries"]} == {"pending"}

            async def all_placed() -> dict[str, Any] | None:
                response = await http.get(f"/api/v1/signals/{signal['id']}", headers=owner.headers)
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                done = all(d["status"] == "placed" for d in body["deliveries"])
                return body if done else None

            seen = await until(all_placed, within=DELIVERY_DEADLINE)
            created_at = datetime.fromisoformat(seen["created_at"])

            for ea in (ea_a, ea_b):
                # The EA printed the signal once and acked it with the ticket the owner sees.
                output = ea.output()
                assert output.count(f"signal {signal['id']} (attempt 1)") == 1, output
                assert "SELL market XAUUSD 0.1 sl 2412.35 tp 2380.1 'e2e'" in output
                match = re.search(rf"acked {signal['id']}: placed, ticket (\d+)", output)
                assert match, output
                [delivery] = [d for d in seen["deliveries"] if d["device_id"] == ea.device_id]
                assert delivery["broker_ticket"] == match.group(1)
                assert delivery["attempts"] == 1
                # Server timestamps: what the CLI's start-up took does not count.
                delivered_at = datetime.fromisoformat(delivery["delivered_at"])
                acked_at = datetime.fromisoformat(delivery["acked_at"])
                assert created_at <= delivered_at <= acked_at
                assert (acked_at - created_at).total_seconds() < DELIVERY_DEADLINE

            codes = [ea_a.interrupt(), ea_b.interrupt()]
            assert codes == [0, 0], ea_a.output() + ea_b.output()
            for ea, device in zip((ea_a, ea_b), devices, strict=True):
                assert "stopped" in ea.output()
                assert "Traceback" not in ea.output()
                assert device["secret"] not in ea.output()

        for device in devices:
            stats = await http.get(f"/api/v1/devices/{device['id']}/stats", headers=owner.headers)
            assert stats.status_code == 200, stats.text
            body = stats.json()
            assert body["window"] == 1
            assert body["deliveries_by_status"] == {"placed": 1}
            assert body["created_to_acked"]["count"] == 1
            assert body["created_to_acked"]["p50_ms"] == body["created_to_acked"]["p95_ms"]
            assert body["created_to_acked"]["p50_ms"] < DELIVERY_DEADLINE * 1000
