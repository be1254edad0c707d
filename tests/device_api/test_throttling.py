"""Brute force is throttled: 429 with Retry-After past each limit, and an audit trail."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory, from_ip
from tests.fixtures.databases import REDIS_URL, require_service
from tests.fixtures.devices import register_device
from tests.fixtures.owners import PASSWORD, new_owner
from tests.fixtures.signing import FORGED, signed_request


async def test_failed_device_auth_per_device_and_ip(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock, device_auth_failures_per_device=3) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        ts = int(clock.time())
        async with from_ip(client, "203.0.113.7") as attacker:
            for _ in range(3):
                forged = await signed_request(
                    attacker, device, "GET", "/api/v1/device/me", secret=FORGED, timestamp=ts
                )
                assert_problem(forged, 401, "invalid_signature")
            limited = await signed_request(
                attacker, device, "GET", "/api/v1/device/me", secret=FORGED, timestamp=ts
            )
            body = assert_problem(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) == 60
            assert body["server_time"] == ts
            # A correctly signed request still gets through from there: a shared address must
            # not lock out the terminal behind it.
            genuine_there = await signed_request(
                attacker, device, "GET", "/api/v1/device/me", timestamp=ts
            )
            assert genuine_there.status_code == 200
            again_forged = await signed_request(
                attacker, device, "GET", "/api/v1/device/me", secret=FORGED, timestamp=ts
            )
            assert_problem(again_forged, 429, "rate_limited")
        # Forging a device's id elsewhere does not lock the real terminal out.
        genuine = await signed_request(client, device, "GET", "/api/v1/device/me", timestamp=ts)
        assert genuine.status_code == 200
        clock.advance(61)
        async with from_ip(client, "203.0.113.7") as attacker:
            later = await signed_request(
                attacker, device, "GET", "/api/v1/device/me", timestamp=int(clock.time())
            )
        assert later.status_code == 200


async def test_failed_device_auth_per_ip(app_client: AppClientFactory) -> None:
    async with app_client(device_auth_failures_per_ip=4) as client:
        owner = await new_owner(client)
        devices = [await register_device(client, owner) for _ in range(5)]
        async with from_ip(client, "198.51.100.9") as attacker:
            codes = [
                (
                    await signed_request(attacker, d, "GET", "/api/v1/device/poll", secret=FORGED)
                ).status_code
                for d in devices
            ]
        assert codes == [401, 401, 401, 401, 429]
        async with from_ip(client, "198.51.100.9") as attacker:
            # Unknown device ids from the blocked address: refused without a lookup.
            stranger = {"id": str(uuid.uuid4()), "secret": FORGED}
            unknown = await signed_request(attacker, stranger, "GET", "/api/v1/device/poll")
        assert_problem(unknown, 429, "rate_limited")


async def test_failed_sign_ins_per_email(app_client: AppClientFactory) -> None:
    async with app_client(sign_in_failures_per_email=3) as client:
        owner = await new_owner(client)
        form = {"username": owner.email, "password": "not the password"}
        codes = [(await client.post("/api/v1/auth/token", data=form)).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        right = await client.post(
            "/api/v1/auth/token", data={"username": owner.email, "password": PASSWORD}
        )
        assert_problem(right, 429, "rate_limited")
        assert int(right.headers["retry-after"]) > 0
        other = await new_owner(client)  # another account from the same address is unaffected
        assert other.token


async def test_failed_sign_ins_per_ip(app_client: AppClientFactory) -> None:
    async with app_client(sign_in_failures_per_ip=2) as client:
        async with from_ip(client, "192.0.2.44") as attacker:
            codes = [
                (
                    await attacker.post(
                        "/api/v1/auth/token",
                        data={"username": f"victim{i}@example.com", "password": "guess-guess"},
                    )
                ).status_code
                for i in range(3)
            ]
        assert codes == [401, 401, 429]


async def test_concurrent_long_polls_per_device_are_capped(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    held = [
        asyncio.create_task(signed_request(client, device, "GET", "/api/v1/device/poll?wait=3"))
        for _ in range(2)
    ]
    await asyncio.sleep(0.3)
    third = await signed_request(client, device, "GET", "/api/v1/device/poll?wait=3")
    assert_problem(third, 429, "too_many_long_polls")
    assert third.headers["retry-after"]
    assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
    # Once they have returned, long-polling works again.
    again = await signed_request(client, device, "GET", "/api/v1/device/poll?wait=1")
    assert again.status_code == 200


async def test_auth_failures_are_audited_once_per_device_per_minute(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    for _ in range(5):
        forged = await signed_request(client, device, "GET", "/api/v1/device/me", secret=FORGED)
        assert forged.status_code == 401
    await client.app.state.runtime.auth_failures.flush()  # type: ignore[attr-defined]
    for _ in range(2):
        await signed_request(client, device, "GET", "/api/v1/device/me", secret=FORGED)
    await client.app.state.runtime.auth_failures.flush()  # type: ignore[attr-defined]
    events = (
        await client.get("/api/v1/audit", params={"device_id": device["id"]}, headers=owner.headers)
    ).json()
    failures = [e for e in events if e["action"] == "device.auth_failed"]
    assert len(failures) <= 2  # one per minute (the test may straddle a minute boundary)
    assert sum(e["detail"]["count"] for e in failures) == 7
    assert all(
        e["detail"]["codes"] == {"invalid_signature": e["detail"]["count"]} for e in failures
    )


async def test_counters_are_shared_through_redis(app_client: AppClientFactory) -> None:
    redis_url = require_service(REDIS_URL, "Redis", "EAGATE_TEST_REDIS_URL")
    ip = f"10.{int(time.time()) % 250}.{time.time_ns() % 250}.1"  # fresh counters per run
    async with app_client(redis_url=redis_url, device_auth_failures_per_ip=3) as first:
        owner = await new_owner(first)
        device = await register_device(first, owner)
        async with app_client(redis_url=redis_url, device_auth_failures_per_ip=3) as second:
            codes = []
            for instance in (first, second, first, second):
                async with from_ip(instance, ip) as attacker:
                    response = await signed_request(
                        attacker, device, "GET", "/api/v1/device/me", secret=FORGED
                    )
                    codes.append(response.status_code)
    assert codes == [401, 401, 401, 429]


async def test_throttling_never_touches_a_healthy_device(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    for _ in range(50):
        ok = await signed_request(client, device, "GET", "/api/v1/device/poll")
        assert ok.status_code == 200
