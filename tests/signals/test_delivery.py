"""SPEC 5 and the delivery half of SPEC 4: signals reach devices, leases, acks, expiry."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import Owner, new_owner
from tests.fixtures.signing import signed_request

SIGNAL = {"instrument": "EURUSD", "side": "buy", "volume": 0.1, "sl": 1.0712, "tp": 1.0845}


async def send_signal(client: httpx.AsyncClient, owner: Owner, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/signals", json={**SIGNAL, **fields}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def poll(
    client: httpx.AsyncClient, device: dict[str, Any], query: str = "", **kwargs: Any
) -> dict[str, Any]:
    response = await signed_request(client, device, "GET", f"/api/v1/device/poll{query}", **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ack(
    client: httpx.AsyncClient, device: dict[str, Any], payload: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    return await signed_request(
        client, device, "POST", "/api/v1/device/ack", body=json.dumps(payload).encode(), **kwargs
    )


async def test_signal_reaches_device_and_ack_is_visible(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    signal = await send_signal(client, owner)
    assert signal["volume"] == 0.1
    assert [d["status"] for d in signal["deliveries"]] == ["pending"]

    polled = await poll(client, device)
    [received] = polled["signals"]
    assert received["signal_id"] == signal["id"]
    assert received["attempt"] == 1
    assert received["volume"] == 0.1
    assert received["sl"] == 1.0712
    assert polled["next_poll_seconds"] == 5

    placed = await ack(
        client, device, {"signal_id": signal["id"], "status": "placed", "broker_ticket": "T-1"}
    )
    assert placed.status_code == 200, placed.text
    seen = (await client.get(f"/api/v1/signals/{signal['id']}", headers=owner.headers)).json()
    [delivery] = seen["deliveries"]
    assert delivery["status"] == "placed"
    assert delivery["broker_ticket"] == "T-1"
    assert delivery["attempts"] == 1
    assert (await poll(client, device))["signals"] == []


async def test_long_poll_wakes_when_signal_commits(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    waiting = asyncio.create_task(poll(client, device, "?wait=25"))
    await asyncio.sleep(0.2)  # let the poll reach its wait
    started = time.monotonic()
    signal = await send_signal(client, owner)
    polled = await asyncio.wait_for(waiting, timeout=5)
    assert time.monotonic() - started < 2
    assert [s["signal_id"] for s in polled["signals"]] == [signal["id"]]


async def test_unacknowledged_delivery_comes_back_after_lease(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        await send_signal(client, owner)
        first = await poll(client, device, timestamp=int(clock.time()))
        assert first["signals"][0]["attempt"] == 1
        assert (await poll(client, device, timestamp=int(clock.time())))["signals"] == []
        clock.advance(31)
        again = await poll(client, device, timestamp=int(clock.time()))
        assert again["signals"][0]["attempt"] == 2


async def test_concurrent_identical_acks_store_one(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    signal = await send_signal(client, owner)
    await poll(client, device)
    payload = {"signal_id": signal["id"], "status": "placed", "broker_ticket": "777"}
    responses = await asyncio.gather(*(ack(client, device, payload) for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.json()["recorded_at"] for r in responses}) == 1


async def test_concurrent_conflicting_acks_one_wins(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    signal = await send_signal(client, owner)
    responses = await asyncio.gather(
        *(
            ack(
                client,
                device,
                {"signal_id": signal["id"], "status": "placed", "broker_ticket": f"T{i}"},
            )
            for i in range(50)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 49
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "ack_conflict")


async def test_idempotency_key(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    await register_device(client, owner)
    headers = {**owner.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post("/api/v1/signals", json=SIGNAL, headers=headers)
    second = await client.post(
        "/api/v1/signals", json=dict(reversed(SIGNAL.items())), headers=headers
    )
    other = await client.post("/api/v1/signals", json={**SIGNAL, "volume": 0.2}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert_problem(other, 409, "idempotency_key_reused")
    listed = (await client.get("/api/v1/signals", headers=owner.headers)).json()
    assert len(listed) == 1


async def test_cancelled_and_expired_are_never_delivered(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        cancelled = await send_signal(client, owner)
        expiring = await send_signal(client, owner, expires_in_seconds=60)
        response = await client.post(
            f"/api/v1/signals/{cancelled['id']}/cancel", headers=owner.headers
        )
        assert response.json()["deliveries"][0]["status"] == "cancelled"
        clock.advance(61)
        assert (await poll(client, device, timestamp=int(clock.time())))["signals"] == []
        seen = (await client.get(f"/api/v1/signals/{expiring['id']}", headers=owner.headers)).json()
        assert seen["deliveries"][0]["status"] == "expired"


async def test_revoking_a_device_cancels_its_pending_deliveries(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    signal = await send_signal(client, owner)
    await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
    seen = (await client.get(f"/api/v1/signals/{signal['id']}", headers=owner.headers)).json()
    assert seen["deliveries"][0]["status"] == "cancelled"


async def test_numbers_are_exact_json_numbers(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    await register_device(client, owner)

    async def post(body: str) -> httpx.Response:
        return await client.post(
            "/api/v1/signals",
            content=body,
            headers={**owner.headers, "Content-Type": "application/json"},
        )

    too_precise = await post(
        '{"instrument": "EURUSD", "side": "buy", "volume": 0.10000000000000001}'
    )
    assert_problem(too_precise, 422, "validation_error")
    assert too_precise.json()["errors"][0]["field"] == "body.volume"
    as_string = await post('{"instrument": "EURUSD", "side": "buy", "volume": "0.1"}')
    assert_problem(as_string, 422, "validation_error")
    exact = await post('{"instrument": "EURUSD", "side": "buy", "volume": 0.1, "price": 1.23456}')
    assert exact.status_code == 201
    assert '"volume":0.1' in exact.text.replace(" ", "")
    assert '"price":1.23456' in exact.text.replace(" ", "")


async def test_equal_numbers_are_the_same_idempotent_body(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    await register_device(client, owner)
    headers = {**owner.headers, "Content-Type": "application/json", "Idempotency-Key": "k-1.0"}
    first = await client.post(
        "/api/v1/signals",
        content='{"instrument":"EURUSD","side":"buy","volume":1}',
        headers=headers,
    )
    again = await client.post(
        "/api/v1/signals",
        content='{"side":"buy","volume":1.0,"instrument":"EURUSD"}',
        headers=headers,
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]


async def test_cancelling_after_expiry_keeps_expired(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        await register_device(client, owner)
        signal = await send_signal(client, owner, expires_in_seconds=60)
        clock.advance(61)
        cancelled = await client.post(
            f"/api/v1/signals/{signal['id']}/cancel", headers=owner.headers
        )
    assert [d["status"] for d in cancelled.json()["deliveries"]] == ["expired"]


async def test_fan_out_reaches_every_long_polling_device_once(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    devices = [await register_device(client, owner) for _ in range(30)]
    waiting = [asyncio.create_task(poll(client, device, "?wait=20")) for device in devices]
    await asyncio.sleep(0.5)
    signal = await send_signal(client, owner)
    results = await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
    for result in results:
        assert [(s["signal_id"], s["attempt"]) for s in result["signals"]] == [(signal["id"], 1)]
    seen = (await client.get(f"/api/v1/signals/{signal['id']}", headers=owner.headers)).json()
    assert {d["status"] for d in seen["deliveries"]} == {"delivered"}
    assert {d["attempts"] for d in seen["deliveries"]} == {1}
