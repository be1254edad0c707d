"""Issue 10, defect 8: a signing header sent twice was read as its first value by /device/me
and as its last by /device/poll. Every signed route now refuses it (SPEC 4)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from eagate.kit.signing import signed_headers
from tests.fixtures.api import assert_problem
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner

ROUTES = [
    ("GET", "/api/v1/device/me", b""),
    ("GET", "/api/v1/device/poll", b""),
    ("GET", "/api/v1/device/poll?wait=1", b""),
    (
        "POST",
        "/api/v1/device/ack",
        b'{"signal_id": "00000000-0000-7000-8000-000000000000", "status": "placed", '
        b'"broker_ticket": "1"}',
    ),
]


def headers_with_a_repeat(
    device: dict[str, Any], method: str, target: str, body: bytes, name: str, *, first: bool
) -> list[tuple[str, str]]:
    """Correctly signed headers, plus a second ``name`` header (a correct one, for a
    Device-Id, or a different valid-looking value) before or after the real one."""
    signed = signed_headers(
        secret=device["secret"],
        device_id=device["id"],
        method=method,
        path_and_query=target,
        body=body,
        timestamp=int(time.time()),
    )
    other = {
        "X-Device-Id": device["id"],
        "X-Timestamp": str(int(time.time()) - 1),
        "X-Nonce": "another-nonce-0123456789",
        "X-Signature": "A" * 43 + "=",
    }[name]
    pairs = [(key, value) for key, value in signed.items() if key != name]
    pairs += (
        [(name, other), (name, signed[name])] if first else [(name, signed[name]), (name, other)]
    )
    if body:
        pairs.append(("Content-Type", "application/json"))
    return pairs


@pytest.mark.parametrize("name", ["X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"])
async def test_a_repeated_signing_header_is_malformed_on_every_signed_route(
    client: httpx.AsyncClient, name: str
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    for method, target, body in ROUTES:
        for first in (True, False):
            response = await client.request(
                method,
                target,
                content=body or None,
                headers=headers_with_a_repeat(device, method, target, body, name, first=first),
            )
            problem = assert_problem(response, 401, "malformed_signature_headers")
            assert name in problem["detail"]
            assert isinstance(problem["server_time"], int)
