"""Small factories for tests: owners and devices made through the public API."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from eagate.kit.signing import signed_headers

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Owner:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_owner(client: httpx.AsyncClient, email: str | None = None) -> Owner:
    email = email or f"owner-{uuid.uuid4().hex[:10]}@example.com"
    signup = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return Owner(signup.json()["id"], email, token.json()["access_token"])


async def register_device(
    client: httpx.AsyncClient, owner: Owner, name: str | None = None
) -> dict[str, Any]:
    """Register a device; the returned dict includes the one-time `secret`."""
    response = await client.post(
        "/api/v1/devices",
        json={"device_name": name or f"EA {uuid.uuid4().hex[:8]}"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    device: dict[str, Any] = response.json()
    return device


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def signed_request(
    client: httpx.AsyncClient,
    device: dict[str, Any],
    method: str,
    target: str,
    *,
    body: bytes = b"",
    secret: str | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send a request signed as ``device`` (a registration response, holding its secret)."""
    signature = signed_headers(
        secret=secret or device["secret"],
        device_id=device["id"],
        method=method,
        path_and_query=target,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce,
    )
    if body:
        signature["Content-Type"] = "application/json"
    return await client.request(
        method, target, content=body or None, headers={**signature, **(headers or {})}
    )
