"""Two `eagate serve` processes over one PostgreSQL and one Redis behave as one service."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.api import assert_problem
from tests.fixtures.databases import (
    POSTGRES_URL,
    REDIS_URL,
    create_postgres_database,
    drop_postgres_database,
    require_service,
)
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.servers import ServerProcess, eagate_serve
from tests.fixtures.signing import signed_request

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_instances(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    base = require_service(POSTGRES_URL, "PostgreSQL", "EAGATE_TEST_POSTGRES_URL")
    redis_url = require_service(REDIS_URL, "Redis", "EAGATE_TEST_REDIS_URL")
    database_url = create_postgres_database(base)
    data_dir = tmp_path_factory.mktemp("two-instances")  # shared: same master key, JWT secret
    settings = {"EAGATE_DATABASE_URL": database_url, "EAGATE_REDIS_URL": redis_url}
    try:
        with (
            eagate_serve(data_dir, name="a", **settings) as a,
            eagate_serve(data_dir, name="b", **settings) as b,
        ):
            yield a, b
    finally:
        drop_postgres_database(base, database_url)


async def test_replay_across_instances_is_refused(
    two_instances: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_instances
    async with httpx.AsyncClient(base_url=a.url) as on_a, httpx.AsyncClient(base_url=b.url) as on_b:
        owner = await new_owner(on_a)
        device = await register_device(on_a, owner)
        now, nonce = int(time.time()), f"replay-{uuid.uuid4().hex}"
        first = await signed_request(
            on_a, device, "GET", "/api/v1/device/me", timestamp=now, nonce=nonce
        )
        replayed = await signed_request(
            on_b, device, "GET", "/api/v1/device/me", timestamp=now, nonce=nonce
        )
    assert first.status_code == 200, first.text
    assert_problem(replayed, 401, "replayed_nonce")


async def test_revocation_through_a_refuses_next_request_at_b(
    two_instances: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_instances
    async with httpx.AsyncClient(base_url=a.url) as on_a, httpx.AsyncClient(base_url=b.url) as on_b:
        owner = await new_owner(on_a)
        device = await register_device(on_a, owner)
        # B caches the device's credentials first, so a stale cache is what is being tested.
        assert (await signed_request(on_b, device, "GET", "/api/v1/device/me")).status_code == 200
        revoked = await on_a.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
        assert revoked.status_code == 200
        refused = await signed_request(on_b, device, "GET", "/api/v1/device/me")
    assert_problem(refused, 401, "device_revoked")


async def test_signal_created_on_a_wakes_long_poll_on_b(
    two_instances: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_instances
    async with (
        httpx.AsyncClient(base_url=a.url) as on_a,
        httpx.AsyncClient(base_url=b.url, timeout=40) as on_b,
    ):
        owner = await new_owner(on_a)
        device = await register_device(on_a, owner)
        # An empty poll first: B now believes the device idle, as it would in production.
        idle = await signed_request(on_b, device, "GET", "/api/v1/device/poll")
        assert idle.json()["signals"] == []
        waiting = asyncio.create_task(
            signed_request(on_b, device, "GET", "/api/v1/device/poll?wait=25")
        )
        await asyncio.sleep(0.3)
        started = time.monotonic()
        created = await on_a.post(
            "/api/v1/signals",
            content=json.dumps({"instrument": "EURUSD", "side": "sell", "volume": 1}),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert created.status_code == 201, created.text
        polled = await asyncio.wait_for(waiting, timeout=10)
        elapsed = time.monotonic() - started
    assert [s["signal_id"] for s in polled.json()["signals"]] == [created.json()["id"]]
    assert elapsed < 2, elapsed
