"""/metrics moves with a poll/ack flow; /healthz and /readyz answer."""

from __future__ import annotations

import json
import re

import httpx

from eagate.kit.clock import FrozenClock
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.signing import signed_request


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(4))
    return 0.0


async def test_metrics_move_after_a_poll_and_ack_flow(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        await check_metrics_flow(client, clock)


async def check_metrics_flow(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    before = (await client.get("/metrics")).text
    owner = await new_owner(client)
    device = await register_device(client, owner)
    signal = (
        await client.post(
            "/api/v1/signals",
            json={"instrument": "EURUSD", "side": "buy", "volume": 1},
            headers=owner.headers,
        )
    ).json()
    ts = int(clock.time())
    polled = await signed_request(client, device, "GET", "/api/v1/device/poll", timestamp=ts)
    assert polled.json()["signals"]
    ack = json.dumps({"signal_id": signal["id"], "status": "placed", "broker_ticket": "42"})
    assert (
        await signed_request(client, device, "POST", "/api/v1/device/ack", body=ack.encode())
    ).status_code == 200
    forged = await signed_request(client, device, "GET", "/api/v1/device/me", secret="0" * 64)
    assert forged.status_code == 401

    clock.advance(10)  # the delivery counts are recomputed at most every 10 s
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    poll = {"method": "GET", "route": "/api/v1/device/poll", "status": "200"}
    assert (
        sample(after, "eagate_http_requests_total", **poll)
        == sample(before, "eagate_http_requests_total", **poll) + 1
    )
    assert (
        sample(
            after,
            "eagate_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/device/poll",
        )
        >= 1
    )
    assert sample(after, "eagate_device_auth_failures_total", code="invalid_signature") >= 1
    assert sample(after, "eagate_acks_total", status="placed") >= 1
    assert sample(after, "eagate_signal_ack_latency_seconds_count") >= 1
    assert sample(after, "eagate_deliveries", status="placed") >= 1
    assert "eagate_long_polls_in_progress" in after


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
