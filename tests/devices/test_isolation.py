"""Owners cannot see or touch each other's devices: another owner's device answers exactly like
a device that does not exist (SPEC section 1), and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.api import API, assert_problem
from tests.fixtures.audit import audit_events
from tests.fixtures.devices import device_url, get_device, list_devices, register_device
from tests.fixtures.owners import Owner, new_owner

# (method, action, JSON body) for every owner route that names one device.
DEVICE_ROUTES = [
    pytest.param("GET", "", None, id="get"),
    pytest.param("PATCH", "", {"device_name": "hijacked"}, id="rename"),
    pytest.param("POST", "revoke", {"reason": "hijacked"}, id="revoke"),
    pytest.param("POST", "rotate-secret", None, id="rotate-secret"),
]


async def call(
    client: httpx.AsyncClient,
    owner: Owner,
    method: str,
    device_id: str,
    action: str,
    body: dict[str, str] | None,
) -> httpx.Response:
    return await client.request(
        method, device_url(device_id, action), json=body, headers=owner.headers
    )


async def snapshot(client: httpx.AsyncClient, owner: Owner, device_id: str) -> dict[str, Any]:
    """Owner 1's whole view of the device, to prove a foreign call changed nothing."""
    return {
        "device": await get_device(client, owner, device_id),
        "listed": await list_devices(client, owner, include_revoked="true"),
        "audit": await audit_events(client, owner),
    }


@pytest.mark.parametrize(("method", "action", "body"), DEVICE_ROUTES)
async def test_another_owners_device_is_indistinguishable_from_a_missing_one(
    client: httpx.AsyncClient, method: str, action: str, body: dict[str, str] | None
) -> None:
    owner, intruder = await new_owner(client), await new_owner(client)
    device = await register_device(client, owner, "private")
    await register_device(client, intruder, "intruder's own")
    before = await snapshot(client, owner, device["id"])

    foreign = await call(client, intruder, method, device["id"], action, body)
    missing = await call(client, intruder, method, str(uuid.uuid4()), action, body)

    assert_problem(foreign, 404, "device_not_found")
    assert foreign.json() == missing.json()
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    assert device["secret"] not in foreign.text
    assert await snapshot(client, owner, device["id"]) == before


@pytest.mark.parametrize(("method", "action", "body"), DEVICE_ROUTES)
async def test_another_owners_revoked_device_is_also_404(
    client: httpx.AsyncClient, method: str, action: str, body: dict[str, str] | None
) -> None:
    # A revoked device answers 409 device_revoked to its owner; a stranger must not learn that.
    owner, intruder = await new_owner(client), await new_owner(client)
    device = await register_device(client, owner)
    await client.post(device_url(device["id"], "revoke"), headers=owner.headers)
    before = await snapshot(client, owner, device["id"])

    foreign = await call(client, intruder, method, device["id"], action, body)

    assert_problem(foreign, 404, "device_not_found")
    assert await snapshot(client, owner, device["id"]) == before


async def test_another_owners_devices_are_not_listed(client: httpx.AsyncClient) -> None:
    owner, other = await new_owner(client), await new_owner(client)
    await register_device(client, owner, "mine")
    theirs = await register_device(client, other, "theirs")

    listed = await list_devices(client, other, include_revoked="true")

    assert [d["id"] for d in listed] == [theirs["id"]]


async def test_a_cursor_cannot_reach_another_owners_devices(client: httpx.AsyncClient) -> None:
    owner, other = await new_owner(client), await new_owner(client)
    await register_device(client, owner)
    await register_device(client, owner)
    first_page = await client.get(f"{API}/devices?limit=1", headers=owner.headers)
    next_url = first_page.links["next"]["url"]

    response = await client.get(next_url, headers=other.headers)

    assert response.status_code == 200
    assert response.json() == []


async def test_audit_of_another_owners_device_is_like_a_missing_device(
    client: httpx.AsyncClient,
) -> None:
    owner, intruder = await new_owner(client), await new_owner(client)
    device = await register_device(client, owner)
    await register_device(client, intruder)

    foreign = await client.get(
        f"{API}/audit", params={"device_id": device["id"]}, headers=intruder.headers
    )
    missing = await client.get(
        f"{API}/audit", params={"device_id": str(uuid.uuid4())}, headers=intruder.headers
    )

    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert device["id"] not in foreign.text
    assert all(event["device_id"] != device["id"] for event in await audit_events(client, intruder))
