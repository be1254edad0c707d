"""A long-poll whose client has gone must not lease signals meant for the device."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from eagate.kit.signing import signed_headers
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.signing import signed_request


async def test_disconnected_long_poll_leaves_the_signal_for_the_next_poll(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    app = client.app  # type: ignore[attr-defined]
    disconnected = asyncio.Event()
    sent: list[dict[str, Any]] = []
    headers = signed_headers(
        secret=device["secret"],
        device_id=device["id"],
        method="GET",
        path_and_query="/api/v1/device/poll?wait=20",
        timestamp=int(time.time()),
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/device/poll",
        "raw_path": b"/api/v1/device/poll",
        "query_string": b"wait=20",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # The same ASGI call a server makes; the client then hangs up before any signal exists.
    long_poll = asyncio.create_task(app(scope, receive, send))
    await asyncio.sleep(0.2)
    disconnected.set()
    await asyncio.wait_for(long_poll, timeout=5)

    created = await client.post(
        "/api/v1/signals",
        json={"instrument": "EURUSD", "side": "buy", "volume": 1},
        headers=owner.headers,
    )
    assert created.status_code == 201
    polled = await signed_request(client, device, "GET", "/api/v1/device/poll")
    assert [s["signal_id"] for s in polled.json()["signals"]] == [created.json()["id"]]
    assert polled.json()["signals"][0]["attempt"] == 1


@pytest.mark.parametrize("wait", ["31", "-1", "x", "1.5"])
async def test_wait_out_of_bounds_is_422(client: httpx.AsyncClient, wait: str) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    response = await signed_request(client, device, "GET", f"/api/v1/device/poll?wait={wait}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.wait"
