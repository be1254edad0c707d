"""Issue 10, defect 8: the aggregated ``device.auth_failed`` event was stamped with the start
of its minute, so it sorted before the act that caused it. It now carries the first failure's
time, still one event per device per minute with a count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from eagate.kit.clock import FrozenClock
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import Owner, new_owner
from tests.fixtures.signing import signed_request

FORGED = "f" * 64


async def _flush(client: httpx.AsyncClient) -> None:
    await client.app.state.runtime.auth_failures.flush()  # type: ignore[attr-defined]


async def _trail(client: httpx.AsyncClient, owner: Owner, device_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/audit", params={"device_id": device_id}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))


async def test_the_failure_event_sorts_after_the_act_that_caused_it(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    revoked = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
    assert revoked.status_code == 200
    refused = await signed_request(client, device, "GET", "/api/v1/device/me", secret=FORGED)
    assert refused.status_code == 401
    await _flush(client)

    newest_first = [event["action"] for event in await _trail(client, owner, device["id"])]
    assert newest_first == ["device.auth_failed", "device.revoked", "device.registered"]


async def test_one_event_per_minute_stamped_with_its_first_failure(
    app_client: AppClientFactory,
) -> None:
    first_failure = (datetime.now(UTC).timestamp() // 60) * 60 + 25.0  # 25 s into a minute
    clock = FrozenClock(first_failure)
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)

        async def fail(times: int) -> None:
            for _ in range(times):
                response = await signed_request(
                    client,
                    device,
                    "GET",
                    "/api/v1/device/me",
                    secret=FORGED,
                    timestamp=int(clock.time()),
                )
                assert response.status_code == 401

        await fail(2)
        await _flush(client)
        clock.advance(20)  # same minute, a later flush: added to the same event
        await fail(3)
        await _flush(client)
        clock.advance(30)  # the next minute: a new event, stamped with its own first failure
        await fail(1)
        await _flush(client)

        failures = [
            event
            for event in await _trail(client, owner, device["id"])
            if event["action"] == "device.auth_failed"
        ]
    assert [event["detail"]["count"] for event in failures] == [1, 5]
    assert [_at(event).timestamp() for event in failures] == [first_failure + 50, first_failure]
