"""GET /devices/{id}/stats: latency of a device's deliveries, created -> delivered -> acked."""

from __future__ import annotations

import json

import httpx

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.signing import signed_request


async def test_latencies_follow_the_clock(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        clock.advance(1)
        for delay_delivered, delay_acked in ((0.2, 1.0), (0.4, 3.0)):
            signal = (
                await client.post(
                    "/api/v1/signals",
                    json={"instrument": "XAUUSD", "side": "sell", "volume": 0.01},
                    headers=owner.headers,
                )
            ).json()
            clock.advance(delay_delivered)
            polled = await signed_request(
                client, device, "GET", "/api/v1/device/poll", timestamp=int(clock.time())
            )
            assert [s["signal_id"] for s in polled.json()["signals"]] == [signal["id"]]
            clock.advance(delay_acked)
            ack = {"signal_id": signal["id"], "status": "placed", "broker_ticket": "1"}
            acked = await signed_request(
                client,
                device,
                "POST",
                "/api/v1/device/ack",
                body=json.dumps(ack).encode(),
                timestamp=int(clock.time()),
            )
            assert acked.status_code == 200
        await client.post(  # a third, never delivered: counted, not measured
            "/api/v1/signals",
            json={"instrument": "XAUUSD", "side": "buy", "volume": 0.01},
            headers=owner.headers,
        )
        stats = (
            await client.get(f"/api/v1/devices/{device['id']}/stats", headers=owner.headers)
        ).json()
    assert stats["window"] == 3
    assert stats["deliveries_by_status"] == {"placed": 2, "pending": 1}
    delivered = stats["created_to_delivered"]
    assert delivered["count"] == 2
    assert 200 <= delivered["p50_ms"] <= 400
    assert stats["delivered_to_acked"]["count"] == 2
    assert 1000 <= stats["delivered_to_acked"]["p50_ms"] <= 3000
    assert stats["delivered_to_acked"]["p95_ms"] >= stats["delivered_to_acked"]["p50_ms"]
    assert stats["created_to_acked"]["count"] == 2


async def test_stats_of_another_owners_device_is_404(client: httpx.AsyncClient) -> None:
    owner, intruder = await new_owner(client), await new_owner(client)
    device = await register_device(client, owner)
    response = await client.get(f"/api/v1/devices/{device['id']}/stats", headers=intruder.headers)
    assert_problem(response, 404, "device_not_found")


async def test_stats_of_a_new_device_are_empty(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    stats = (
        await client.get(f"/api/v1/devices/{device['id']}/stats", headers=owner.headers)
    ).json()
    assert stats["window"] == 0
    assert stats["created_to_acked"] == {"count": 0, "p50_ms": None, "p95_ms": None}
