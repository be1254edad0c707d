"""Changing any one signed component of a valid request turns it into 401 invalid_signature."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from eagate.kit.signing import signed_headers
from tests.fixtures.api import assert_problem
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner

TARGET = "/api/v1/device/ack"
BODY = b'{"signal_id": "00000000-0000-7000-8000-000000000000", "status": "failed", "error": "x"}'


def tampered(device: dict[str, Any], component: str) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, target, body, headers): signed for the original, then one component changed."""
    now = int(time.time())
    headers = signed_headers(
        secret=device["secret"],
        device_id=device["id"],
        method="POST",
        path_and_query=TARGET + "?trace=1",
        body=BODY,
        timestamp=now,
    )
    method, target, body = "POST", TARGET + "?trace=1", BODY
    if component == "method":
        method = "PUT"
    elif component == "path":
        # Sent where it was not signed for (sent to a route that accepts the method).
        headers = signed_headers(
            secret=device["secret"],
            device_id=device["id"],
            method="POST",
            path_and_query="/api/v1/device/acks?trace=1",
            body=BODY,
            timestamp=now,
        )
    elif component == "query":
        target = TARGET + "?trace=2"
    elif component == "body":
        body = BODY.replace(b'"x"', b'"y"')
    elif component == "device_id":
        headers["X-Device-Id"] = str(uuid.uuid4())
    elif component == "timestamp":
        headers["X-Timestamp"] = str(now + 1)
    elif component == "nonce":
        headers["X-Nonce"] = headers["X-Nonce"][:-1] + (
            "A" if headers["X-Nonce"][-1] != "A" else "B"
        )
    elif component == "key":
        headers = signed_headers(
            secret="0" * 64,
            device_id=device["id"],
            method="POST",
            path_and_query=target,
            body=body,
            timestamp=now,
            nonce=headers["X-Nonce"],
        )
    return method, target, body, {**headers, "Content-Type": "application/json"}


async def test_the_untampered_request_is_accepted(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    method, target, body, headers = tampered(device, "none")
    response = await client.request(method, target, content=body, headers=headers)
    # Authenticated; the signal does not exist, which is the next thing checked.
    assert_problem(response, 404, "signal_not_found")


@pytest.mark.parametrize(
    "component", ["method", "path", "query", "body", "device_id", "timestamp", "nonce", "key"]
)
async def test_changing_one_component_invalidates_the_signature(
    client: httpx.AsyncClient, component: str
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    method, target, body, headers = tampered(device, component)
    if component == "method":
        # No PUT route: sign-checking GET /device/me with a POST signature is the same test.
        method, target = "GET", "/api/v1/device/me?trace=1"
        headers = {**headers}
    response = await client.request(method, target, content=body, headers=headers)
    assert_problem(response, 401, "invalid_signature")
    assert json.loads(response.text)["server_time"] > 0
