"""Helpers for the device SDK suites: a wrapper transport, and the skip for a missing server side.

The wrapper passes requests to the real app's transport; it only stands in for what leaves the
machine (a refused connection, a proxy's 503), never for the server's logic or its database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from eagate.client import DeviceClient
from tests.helpers import Owner

BASE_URL = "http://eagate.test"  # the conftest client's base_url
API = "/api/v1"

Failure = Callable[[httpx.Request], httpx.Response | Exception]


async def require_device_api(http: httpx.AsyncClient) -> None:
    """Skip while the server side of the device API is missing (its route answers 404)."""
    response = await http.get(f"{API}/device/me")
    if response.status_code == 404:
        pytest.skip("the device API is not there yet: GET /api/v1/device/me is 404")


class WrapperTransport(httpx.AsyncBaseTransport):
    """The app's real transport, with the first `fail_first` requests failing as `failure`
    says; every request and response is kept for the test to inspect."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        fail_first: int = 0,
        failure: Failure | None = None,
        forward_failures: bool = False,
    ) -> None:
        self.inner = inner
        self.fail_first = fail_first
        self.failure = failure
        # True: a failing request still reaches the server; only its response is lost.
        self.forward_failures = forward_failures
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response | Exception] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.fail_first and self.failure is not None:
            if self.forward_failures:
                await (await self.inner.handle_async_request(request)).aread()
            outcome = self.failure(request)
            self.responses.append(outcome)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.responses.append(response)
        return response

    def response(self, index: int) -> httpx.Response:
        outcome = self.responses[index]
        assert isinstance(outcome, httpx.Response), outcome
        return outcome

    # The inner transport belongs to the test's app client: closing the SDK must not close it.
    async def aclose(self) -> None:
        return None


def status_failure(
    status: int, headers: dict[str, str] | None = None, code: str | None = None
) -> Failure:
    def fail(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = {"status": status, "title": "failure", "detail": "injected"}
        if code is not None:
            body["code"] = code
        return httpx.Response(status, json=body, headers=headers, request=request)

    return fail


def connect_failure(request: httpx.Request) -> Exception:
    return httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> Exception:
    return httpx.ReadTimeout("timed out", request=request)


class Sleeps:
    """Records the SDK's backoff pauses instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def recompute_signature(request: httpx.Request, secret: str) -> str:
    """The signature a request should carry, derived with hmac/hashlib only (not eagate)."""
    canonical = "\n".join(
        (
            request.method,
            request.url.raw_path.decode("ascii"),
            request.headers["X-Device-Id"],
            request.headers["X-Timestamp"],
            request.headers["X-Nonce"],
            hashlib.sha256(request.content).hexdigest(),
        )
    )
    digest = hmac.new(secret.encode("ascii"), canonical.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sdk(
    http: httpx.AsyncClient,
    device: dict[str, Any],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = BASE_URL,
    **options: Any,
) -> DeviceClient:
    """A DeviceClient for `device` over the test app (through `transport` when given)."""
    options.setdefault("sleep", Sleeps())
    return DeviceClient(
        base_url,
        device["id"],
        device["secret"],
        transport=transport or http._transport,
        **options,
    )


async def create_signal(
    http: httpx.AsyncClient, owner: Owner, device_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"instrument": "EURUSD", "side": "buy", "volume": 0.1, **fields}
    response = await http.post(
        f"{API}/signals", json={**body, "device_ids": [device_id]}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    signal: dict[str, Any] = response.json()
    return signal
