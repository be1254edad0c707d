"""The device registry over HTTP: register, list, get, rename, revoke, rotate (SPEC section 3)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import API, ISO_UTC, assert_problem, follow_pages
from tests.fixtures.app import AppClientFactory, non_raising
from tests.fixtures.devices import (
    DEVICE_FIELDS,
    SECRET_FORMAT,
    device_url,
    get_device,
    list_devices,
    register_device,
    rename,
    revoke,
)
from tests.fixtures.owners import Owner, new_owner


def iso(moment: datetime) -> str:
    """How the API writes a time: ISO 8601, UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def timed_client(
    app_client: AppClientFactory, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose server reads time from `clock`, so timestamps are exact."""
    async with app_client(clock=clock) as client:
        yield client


async def rotate(client: httpx.AsyncClient, owner: Owner, device_id: str) -> httpx.Response:
    return await client.post(device_url(device_id, "rotate-secret"), headers=owner.headers)


# --- registration ----------------------------------------------------------------------------


async def test_register_returns_the_device_and_its_secret(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    owner = await new_owner(timed_client)

    response = await timed_client.post(
        f"{API}/devices", json={"device_name": "EURUSD scalper #1"}, headers=owner.headers
    )

    assert response.status_code == 201, response.text
    device = response.json()
    assert set(device) == DEVICE_FIELDS | {"secret"}
    assert uuid.UUID(device["id"]).version == 7
    assert device["client_id"] == owner.id
    assert device["device_name"] == "EURUSD scalper #1"
    assert device["is_active"] is True
    for never_yet in ("revoked_at", "revoke_reason", "last_poll_at", "last_ack_at", "last_seen_at"):
        assert device[never_yet] is None
    assert SECRET_FORMAT.match(device["secret"])
    assert device["secret_fingerprint"] == hashlib.sha256(device["secret"].encode()).hexdigest()[:8]
    assert device["created_at"] == device["updated_at"] == iso(clock.now())


async def test_registered_device_reads_back_the_same(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    created = await register_device(client, owner)

    fetched = await get_device(client, owner, created["id"])

    assert set(fetched) == DEVICE_FIELDS
    assert fetched == {k: v for k, v in created.items() if k != "secret"}
    # Times survive the round trip through each database as UTC with a Z.
    assert ISO_UTC.match(fetched["created_at"])
    assert fetched["created_at"] == fetched["updated_at"]


async def test_each_device_gets_its_own_secret(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    secrets = {(await register_device(client, owner))["secret"] for _ in range(5)}

    assert len(secrets) == 5


async def test_the_secret_is_shown_only_at_registration_and_rotation(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    secret = device["secret"]
    url = device_url(device["id"])

    later = [
        await client.get(url, headers=owner.headers),
        await client.get(f"{API}/devices", headers=owner.headers),
        await rename(client, owner, device["id"], "renamed"),
        await client.get(f"{API}/audit", headers=owner.headers),
        await revoke(client, owner, device["id"], "done"),
        await client.get(f"{API}/devices?include_revoked=true", headers=owner.headers),
    ]

    for response in later:
        assert response.status_code == 200, response.text
        assert secret not in response.text, response.request.url
        assert '"secret"' not in response.text, response.request.url


async def test_a_rotated_secret_is_not_shown_again(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    rotated = (await rotate(client, owner, device["id"])).json()

    responses = [
        await client.get(device_url(device["id"]), headers=owner.headers),
        await client.get(f"{API}/devices", headers=owner.headers),
        await client.get(f"{API}/audit", headers=owner.headers),
    ]

    for response in responses:
        assert rotated["secret"] not in response.text
        assert device["secret"] not in response.text


# --- listing ---------------------------------------------------------------------------------


async def test_list_is_empty_for_a_new_owner(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.get(f"{API}/devices", headers=owner.headers)

    assert response.status_code == 200
    assert response.json() == []
    assert "link" not in response.headers


async def test_list_is_oldest_first(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    ids = [(await register_device(client, owner, f"device {i}"))["id"] for i in range(5)]

    listed = await list_devices(client, owner)

    assert [device["id"] for device in listed] == ids
    assert all(set(device) == DEVICE_FIELDS for device in listed)


async def test_revoked_devices_are_listed_only_when_asked(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    ids = [(await register_device(client, owner))["id"] for _ in range(3)]
    assert (await revoke(client, owner, ids[1])).status_code == 200

    active = await list_devices(client, owner)
    explicit = await list_devices(client, owner, include_revoked="false")
    everything = await list_devices(client, owner, include_revoked="true")

    assert [d["id"] for d in active] == [ids[0], ids[2]]
    assert explicit == active
    assert [d["id"] for d in everything] == ids
    assert [d["is_active"] for d in everything] == [True, False, True]


async def test_pagination_follows_next_links_until_exhausted(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    ids = [(await register_device(client, owner))["id"] for _ in range(7)]

    pages = await follow_pages(client, owner, f"{API}/devices?limit=3")

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [device["id"] for page in pages for device in page] == ids


async def test_no_next_link_when_the_last_page_is_exactly_full(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    ids = [(await register_device(client, owner))["id"] for _ in range(4)]

    pages = await follow_pages(client, owner, f"{API}/devices?limit=2")

    assert [[d["id"] for d in page] for page in pages] == [ids[:2], ids[2:]]


async def test_next_link_keeps_the_other_query_parameters(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    ids = [(await register_device(client, owner))["id"] for _ in range(5)]
    for revoked in (ids[0], ids[3]):
        assert (await revoke(client, owner, revoked)).status_code == 200

    first = await client.get(
        f"{API}/devices", params={"limit": 2, "include_revoked": "true"}, headers=owner.headers
    )
    assert 'rel="next"' in first.headers["link"]
    pages = await follow_pages(client, owner, f"{API}/devices?limit=2&include_revoked=true")
    active_pages = await follow_pages(client, owner, f"{API}/devices?limit=2")

    assert [d["id"] for page in pages for d in page] == ids
    assert [d["id"] for page in active_pages for d in page] == [ids[1], ids[2], ids[4]]


async def test_default_page_size_is_50(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    for _ in range(51):
        await register_device(client, owner)

    response = await client.get(f"{API}/devices", headers=owner.headers)

    assert len(response.json()) == 50
    assert "next" in response.links


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1.5"])
async def test_limit_outside_1_to_200_is_422(client: httpx.AsyncClient, limit: str) -> None:
    owner = await new_owner(client)

    response = await client.get(f"{API}/devices", params={"limit": limit}, headers=owner.headers)

    body = assert_problem(response, 422, "validation_error")
    assert any(error["field"] == "query.limit" for error in body["errors"])


@pytest.mark.parametrize("limit", [1, 200])
async def test_limit_bounds_are_inclusive(client: httpx.AsyncClient, limit: int) -> None:
    owner = await new_owner(client)
    await register_device(client, owner)

    response = await client.get(f"{API}/devices", params={"limit": limit}, headers=owner.headers)

    assert response.status_code == 200
    assert len(response.json()) == 1


@pytest.mark.parametrize("cursor", ["not a cursor!", "%%%", "AAAA", "é", "A" * 65])
async def test_a_cursor_the_server_did_not_issue_is_422(
    client: httpx.AsyncClient, cursor: str
) -> None:
    owner = await new_owner(client)

    response = await client.get(f"{API}/devices", params={"cursor": cursor}, headers=owner.headers)

    assert_problem(response, 422, "validation_error")


# --- one device ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"device_name": "anything"}),
        ("POST", "revoke", {"reason": "gone"}),
        ("POST", "rotate-secret", None),
    ],
)
async def test_a_missing_device_is_404(
    client: httpx.AsyncClient, method: str, action: str, body: dict[str, str] | None
) -> None:
    owner = await new_owner(client)
    await register_device(client, owner)

    response = await client.request(
        method, device_url(str(uuid.uuid4()), action), json=body, headers=owner.headers
    )

    assert_problem(response, 404, "device_not_found")


async def test_a_device_id_that_is_not_a_uuid_is_422(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.get(device_url("12345"), headers=owner.headers)

    assert_problem(response, 422, "validation_error")


# --- rename ----------------------------------------------------------------------------------


async def test_rename_changes_the_name_and_moves_updated_at(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    owner = await new_owner(timed_client)
    device = await register_device(timed_client, owner, "old name")
    clock.advance(90)

    response = await rename(timed_client, owner, device["id"], "new name")

    assert response.status_code == 200, response.text
    renamed = response.json()
    assert set(renamed) == DEVICE_FIELDS
    assert renamed["device_name"] == "new name"
    assert renamed["updated_at"] == iso(clock.now())
    assert renamed["created_at"] == device["created_at"]
    assert renamed["secret_fingerprint"] == device["secret_fingerprint"]
    assert await get_device(timed_client, owner, device["id"]) == renamed


async def test_rename_to_a_name_taken_by_another_active_device_is_409(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    await register_device(client, owner, "Alpha")
    beta = await register_device(client, owner, "Beta")

    for taken in ("Alpha", "ALPHA", "  alpha  "):
        assert_problem(await rename(client, owner, beta["id"], taken), 409, "device_name_taken")

    assert (await get_device(client, owner, beta["id"]))["device_name"] == "Beta"


async def test_rename_to_another_case_of_its_own_name_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "gold scalper")

    response = await rename(client, owner, device["id"], "Gold Scalper")

    assert response.status_code == 200, response.text
    assert response.json()["device_name"] == "Gold Scalper"


async def test_rename_to_a_revoked_devices_name_is_allowed(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    old = await register_device(client, owner, "Retired")
    await revoke(client, owner, old["id"])
    device = await register_device(client, owner, "Fresh")

    response = await rename(client, owner, device["id"], "retired")

    assert response.status_code == 200, response.text


async def test_rename_of_a_revoked_device_is_409(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "to revoke")
    await revoke(client, owner, device["id"])

    response = await rename(client, owner, device["id"], "something else")

    assert_problem(response, 409, "device_revoked")
    assert (await get_device(client, owner, device["id"]))["device_name"] == "to revoke"


async def test_rename_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "stays")

    response = await client.patch(
        device_url(device["id"]),
        json={"device_name": "changed", "is_active": False},
        headers=owner.headers,
    )

    assert_problem(response, 422, "validation_error")
    unchanged = await get_device(client, owner, device["id"])
    assert (unchanged["device_name"], unchanged["is_active"]) == ("stays", True)


# --- revoke ----------------------------------------------------------------------------------


async def test_revoke_deactivates_with_time_and_reason(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    owner = await new_owner(timed_client)
    device = await register_device(timed_client, owner)
    clock.advance(60)

    response = await revoke(timed_client, owner, device["id"], "terminal decommissioned")

    assert response.status_code == 200, response.text
    revoked = response.json()
    assert set(revoked) == DEVICE_FIELDS
    assert revoked["is_active"] is False
    assert revoked["revoked_at"] == iso(clock.now())
    assert revoked["revoke_reason"] == "terminal decommissioned"
    assert await get_device(timed_client, owner, device["id"]) == revoked


async def test_revoking_again_is_a_no_op(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    owner = await new_owner(timed_client)
    device = await register_device(timed_client, owner)
    first = (await revoke(timed_client, owner, device["id"], "first reason")).json()
    clock.advance(600)

    again = await revoke(timed_client, owner, device["id"], "second reason")

    assert again.status_code == 200, again.text
    assert again.json() == first  # same revoked_at, revoke_reason and updated_at
    assert await get_device(timed_client, owner, device["id"]) == first


@pytest.mark.parametrize("body", [None, {}, {"reason": None}])
async def test_revoke_reason_is_optional(
    client: httpx.AsyncClient, body: dict[str, None] | None
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)

    response = await client.post(
        device_url(device["id"], "revoke"), json=body, headers=owner.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert response.json()["revoke_reason"] is None


async def test_revoke_reason_up_to_128_characters(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    reason = "ü" * 128

    response = await revoke(client, owner, device["id"], reason)

    assert response.status_code == 200, response.text
    assert response.json()["revoke_reason"] == reason


async def test_revoke_reason_over_128_characters_is_422(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)

    response = await revoke(client, owner, device["id"], "r" * 129)

    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["body.reason"]
    assert (await get_device(client, owner, device["id"]))["is_active"] is True


async def test_revoke_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)

    response = await client.post(
        device_url(device["id"], "revoke"), json={"reasn": "typo"}, headers=owner.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await get_device(client, owner, device["id"]))["is_active"] is True


async def test_revoke_reason_with_a_nul_character_is_refused(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)

    async with non_raising(client) as raw:
        response = await revoke(raw, owner, device["id"], "bad\x00reason")

    assert_problem(response, 422, "validation_error")


async def test_a_revoked_name_can_be_registered_again(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    old = await register_device(client, owner, "Reusable")
    await revoke(client, owner, old["id"])

    again = await client.post(
        f"{API}/devices", json={"device_name": "Reusable"}, headers=owner.headers
    )

    assert again.status_code == 201, again.text
    everything = await list_devices(client, owner, include_revoked="true")
    assert [(d["device_name"], d["is_active"]) for d in everything] == [
        ("Reusable", False),
        ("Reusable", True),
    ]


# --- rotate ----------------------------------------------------------------------------------


async def test_rotate_secret_returns_a_new_secret_once(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    owner = await new_owner(timed_client)
    device = await register_device(timed_client, owner)
    clock.advance(30)

    response = await rotate(timed_client, owner, device["id"])

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert set(rotated) == DEVICE_FIELDS | {"secret"}
    assert SECRET_FORMAT.match(rotated["secret"])
    assert rotated["secret"] != device["secret"]
    assert (
        rotated["secret_fingerprint"] == hashlib.sha256(rotated["secret"].encode()).hexdigest()[:8]
    )
    assert rotated["secret_fingerprint"] != device["secret_fingerprint"]
    assert rotated["updated_at"] == iso(clock.now())
    assert rotated["created_at"] == device["created_at"]
    assert rotated["is_active"] is True
    fetched = await get_device(timed_client, owner, device["id"])
    assert fetched == {k: v for k, v in rotated.items() if k != "secret"}


async def test_rotate_secret_of_a_revoked_device_is_409(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    revoked = (await revoke(client, owner, device["id"])).json()

    response = await rotate(client, owner, device["id"])

    assert_problem(response, 409, "device_revoked")
    assert await get_device(client, owner, device["id"]) == revoked


async def test_every_device_response_is_json_with_device_fields(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    responses: list[tuple[httpx.Response, set[str]]] = [
        (await client.get(device_url(device["id"]), headers=owner.headers), DEVICE_FIELDS),
        (await rename(client, owner, device["id"], "json check"), DEVICE_FIELDS),
        (await rotate(client, owner, device["id"]), DEVICE_FIELDS | {"secret"}),
        (await revoke(client, owner, device["id"]), DEVICE_FIELDS),
    ]

    for response, fields in responses:
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        assert set(body) == fields
        for key in ("created_at", "updated_at"):
            assert ISO_UTC.match(body[key])
