"""Device changes leave an audit trail, newest first, filterable by device (SPEC section 6)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fixtures.api import API, ISO_UTC, assert_problem, follow_pages
from tests.fixtures.audit import audit_events
from tests.fixtures.devices import device_url, register_device, rename, revoke
from tests.fixtures.owners import new_owner


async def test_device_lifecycle_is_audited_newest_first(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "audited")
    other = await register_device(client, owner, "bystander")
    assert (await rename(client, owner, device["id"], "audited v2")).status_code == 200
    rotated = await client.post(device_url(device["id"], "rotate-secret"), headers=owner.headers)
    assert (await revoke(client, owner, device["id"], "retired")).status_code == 200

    events = await audit_events(client, owner)

    assert [(e["action"], e["device_id"]) for e in events] == [
        ("device.revoked", device["id"]),
        ("device.secret_rotated", device["id"]),
        ("device.renamed", device["id"]),
        ("device.registered", other["id"]),
        ("device.registered", device["id"]),
        ("owner.signed_in", None),
    ]
    for event in events:
        assert set(event) == {"id", "at", "action", "actor", "device_id", "ip", "detail"}
        assert event["actor"] == f"client:{owner.id}"
        assert ISO_UTC.match(event["at"])
        uuid.UUID(event["id"])
    # The trail names fingerprints, never the secrets themselves.
    for secret in (device["secret"], rotated.json()["secret"]):
        assert secret not in str(events)


async def test_audit_is_filtered_by_device(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    other = await register_device(client, owner)
    await rename(client, owner, other["id"], "other renamed")
    await revoke(client, owner, device["id"])

    events = await audit_events(client, owner, device_id=device["id"])

    assert [e["action"] for e in events] == ["device.revoked", "device.registered"]
    assert {e["device_id"] for e in events} == {device["id"]}


async def test_no_op_changes_are_not_audited(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    await revoke(client, owner, device["id"], "once")

    await revoke(client, owner, device["id"], "twice")

    events = await audit_events(client, owner, device_id=device["id"])
    assert [e["action"] for e in events] == ["device.revoked", "device.registered"]


async def test_failed_changes_are_not_audited(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    await register_device(client, owner, "taken")
    device = await register_device(client, owner)

    assert (await rename(client, owner, device["id"], "TAKEN")).status_code == 409
    assert (
        await client.post(f"{API}/devices", json={"device_name": "taken"}, headers=owner.headers)
    ).status_code == 409

    actions = [e["action"] for e in await audit_events(client, owner)]
    assert actions == ["device.registered", "device.registered", "owner.signed_in"]


async def test_audit_pages_follow_next_links(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)  # signing in is the first event
    for _ in range(4):
        await register_device(client, owner)
    everything = await audit_events(client, owner)

    pages = await follow_pages(client, owner, f"{API}/audit?limit=2")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [e["id"] for page in pages for e in page] == [e["id"] for e in everything]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"cursor": "??"}])
async def test_audit_paging_parameters_are_validated(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    owner = await new_owner(client)

    response = await client.get(f"{API}/audit", params=params, headers=owner.headers)

    assert_problem(response, 422, "validation_error")
