"""Isolation between owners, for every owner route with an id in its path, from the document.

SPEC 1: another owner's resource is indistinguishable from a missing one (404, the same body).
The routes come from the app's OpenAPI document (operations with path parameters and the bearer
security), so a new id-taking route is tested as soon as it exists; if the test cannot call it
(an unknown kind of id, a required body it has no example of), it fails until taught.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.api import API
from tests.fixtures.devices import register_device
from tests.fixtures.openapi import build_document, operations, path_parameters, uses_bearer
from tests.fixtures.owners import Owner, new_owner


def id_routes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'METHOD /path' -> operation, for every owner (bearer) route with path parameters."""
    return {
        f"{method} {path}": operation
        for method, path, operation in operations(document)
        if path_parameters(operation) and uses_bearer(operation)
    }


DOCUMENT = build_document()
ID_ROUTES = id_routes(DOCUMENT)

# What each path parameter names: the not-found code a stranger must get for it.
NOT_FOUND_CODES = {
    "device_id": "device_not_found",
    "signal_id": "signal_not_found",
    "session_id": "session_not_found",
}

# A valid body for the routes that take one: an intruder's request must fail on ownership, not
# on validation (422 would be answered before any lookup, and prove nothing).
BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/v1/devices/{device_id}": {"device_name": "hijacked"},
    "POST /api/v1/devices/{device_id}/revoke": {"reason": "hijacked"},
}

# The routes each run of the test below called, per database backend.
TESTED: dict[str, set[str]] = {}


def body_for(label: str, operation: dict[str, Any]) -> dict[str, Any] | None:
    if label in BODIES:
        return BODIES[label]
    assert not operation.get("requestBody", {}).get("required"), (
        f"{label} requires a body: add a valid one to BODIES"
    )
    return None


async def owned_world(client: httpx.AsyncClient) -> tuple[Owner, dict[str, str]]:
    """An owner with two devices, a signal delivered to both and a session; its ids by
    parameter name."""
    owner = await new_owner(client)
    device = await register_device(client, owner, "private EA")
    await register_device(client, owner, "second EA")
    signal = await client.post(
        f"{API}/signals",
        json={"instrument": "EURUSD", "side": "buy", "volume": 0.1, "comment": "private"},
        headers=owner.headers,
    )
    assert signal.status_code == 201, signal.text
    (session,) = await read(client, owner, "/auth/sessions")
    return owner, {
        "device_id": device["id"],
        "signal_id": signal.json()["id"],
        "session_id": session["id"],
    }


async def read(client: httpx.AsyncClient, owner: Owner, path: str, **params: Any) -> Any:
    response = await client.get(f"{API}{path}", params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def snapshot(client: httpx.AsyncClient, owner: Owner) -> dict[str, Any]:
    """Everything the owner can read about what they own: lists, details, the audit trail."""
    devices = await read(client, owner, "/devices", include_revoked="true", limit=200)
    signals = await read(client, owner, "/signals", limit=200)
    return {
        "devices": devices,
        "device_details": [await read(client, owner, f"/devices/{d['id']}") for d in devices],
        "signals": signals,
        "signal_details": [await read(client, owner, f"/signals/{s['id']}") for s in signals],
        "audit": await read(client, owner, "/audit", limit=200),
        "sessions": await read(client, owner, "/auth/sessions"),
    }


@pytest.mark.parametrize("label", sorted(ID_ROUTES))
async def test_another_owners_ids_answer_like_missing_ones(
    client: httpx.AsyncClient, database_url: str, label: str
) -> None:
    operation = ID_ROUTES[label]
    method, path = label.split(" ", 1)
    names = path_parameters(operation)
    unknown = set(names) - NOT_FOUND_CODES.keys()
    assert not unknown, f"{label}: no owned resource known for {unknown}: add it to the test"
    body = body_for(label, operation)

    owner, ids = await owned_world(client)
    intruder = await new_owner(client)
    await register_device(client, intruder, "intruder's EA")
    before = await snapshot(client, owner)

    def target(values: dict[str, str]) -> str:
        return path.format(**{name: values[name] for name in names})

    foreign = await client.request(method, target(ids), json=body, headers=intruder.headers)
    random_ids = {name: str(uuid.uuid4()) for name in names}
    missing = await client.request(method, target(random_ids), json=body, headers=intruder.headers)

    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] in {NOT_FOUND_CODES[name] for name in names}
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    assert not any(value in foreign.text for value in ids.values())
    assert await snapshot(client, owner) == before, f"{label} by a stranger changed something"
    TESTED.setdefault(database_url, set()).add(label)


async def test_every_id_route_of_the_document_was_tested(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Runs after the test above (same backend): it must have covered exactly the id routes
    of the document the app serves, not only those known when the module was collected."""
    served = (await client.get("/openapi.json")).json()
    assert set(id_routes(served)) == set(ID_ROUTES)
    assert TESTED.get(database_url, set()) == set(id_routes(served))
