"""Cross-cutting HTTP conventions (SPEC section 1): problem+json errors, body limits, content
types, and the X-Request-Id / X-Server-Time headers on every response."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import API, assert_problem
from tests.fixtures.app import AppClientFactory, non_raising
from tests.fixtures.devices import device_url, list_devices, register_device
from tests.fixtures.owners import PASSWORD, Owner, new_owner

LIMIT = 64 * 1024
JSON = {"content-type": "application/json"}


def json_body_of_size(size: int, name: str = "sized") -> bytes:
    """A valid JSON device body padded with insignificant whitespace to exactly `size` bytes."""
    core = b'{"device_name": "' + name.encode() + b'"}'
    assert size >= len(core)
    return core + b" " * (size - len(core))


async def chunks(total: int, chunk: int = 4096) -> AsyncIterator[bytes]:
    """A body sent without Content-Length (chunked), so only a streaming cap can catch it."""
    sent = 0
    while sent < total:
        part = min(chunk, total - sent)
        sent += part
        yield b" " * part


async def json_routes(client: httpx.AsyncClient) -> tuple[Owner, list[tuple[str, str]]]:
    """Every route that takes a JSON body, with an owner that may call them."""
    owner = await new_owner(client)
    device = await register_device(client, owner)
    return owner, [
        ("POST", f"{API}/auth/signup"),
        ("POST", f"{API}/devices"),
        ("PATCH", device_url(device["id"])),
        ("POST", device_url(device["id"], "revoke")),
    ]


# --- malformed JSON --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"device_name": ', b"{'device_name': 'x'}", b"{,}", b'{"a": 1}}', b"nul"]
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    owner, routes = await json_routes(client)

    for method, url in routes:
        response = await client.request(method, url, content=raw, headers={**owner.headers, **JSON})
        body = assert_problem(response, 400, "malformed_json")
        assert body["type"] != "about:blank"


async def test_json_that_is_not_utf8_is_malformed(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.post(
        f"{API}/devices",
        content=b'{"device_name": "caf\xe9"}',  # Latin-1, not UTF-8
        headers={**owner.headers, **JSON},
    )

    assert_problem(response, 400, "malformed_json")


# --- body size -------------------------------------------------------------------------------


async def test_a_body_of_exactly_64_kib_is_accepted(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.post(
        f"{API}/devices", content=json_body_of_size(LIMIT), headers={**owner.headers, **JSON}
    )

    assert response.status_code == 201, response.text


async def test_a_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    owner, routes = await json_routes(client)
    routes.append(("POST", f"{API}/auth/token"))

    for method, url in routes:
        response = await client.request(
            method,
            url,
            content=json_body_of_size(LIMIT + 1, name="too big"),
            headers={**owner.headers, **JSON},
        )
        assert_problem(response, 413, "payload_too_large")

    assert "too big" not in [d["device_name"] for d in await list_devices(client, owner)]


async def test_a_chunked_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.post(
        f"{API}/devices", content=chunks(LIMIT + 4096), headers={**owner.headers, **JSON}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")


async def test_a_small_chunked_body_is_read_normally(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    async def small() -> AsyncIterator[bytes]:
        yield b'{"device_name": '
        yield b'"chunked"}'

    response = await client.post(
        f"{API}/devices", content=small(), headers={**owner.headers, **JSON}
    )

    assert response.status_code == 201, response.text


# --- content types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        pytest.param("text/plain", b'{"device_name": "x"}', id="text-plain"),
        pytest.param(None, b'{"device_name": "x"}', id="no-content-type"),
        pytest.param("application/x-www-form-urlencoded", b"device_name=x", id="form"),
        pytest.param(
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="device_name"\r\n\r\nx\r\n--b--\r\n',
            id="multipart",
        ),
        pytest.param("application/xml", b"<device_name>x</device_name>", id="xml"),
        pytest.param("application/json", b"", id="json-empty-body"),
        pytest.param("application/json", b"null", id="json-null"),
        pytest.param("application/json", b"[]", id="json-array"),
        pytest.param("application/json", b'"device"', id="json-string"),
    ],
)
async def test_wrong_content_types_are_client_errors(
    client: httpx.AsyncClient, content_type: str | None, raw: bytes
) -> None:
    owner, routes = await json_routes(client)
    headers = {**owner.headers, **({"content-type": content_type} if content_type else {})}

    for method, url in routes:
        response = await client.request(method, url, content=raw, headers=headers)
        # Revoke takes an optional body, so "no body" is a valid revoke.
        if url.endswith("/revoke") and raw in (b"", b"null"):
            assert response.status_code == 200, response.text
            continue
        assert response.status_code in (400, 415, 422), (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_validation_errors_list_every_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/signup", json={"email": "nope", "password": "short", "extra": 1}
    )

    body = assert_problem(response, 422, "validation_error")
    assert sorted(error["field"] for error in body["errors"]) == [
        "body.email",
        "body.extra",
        "body.password",
    ]
    assert all(set(error) == {"field", "message"} and error["message"] for error in body["errors"])


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    missing = await client.get(f"{API}/nothing-here", headers=owner.headers)
    wrong_method = await client.put(f"{API}/devices", headers=owner.headers)

    assert_problem(missing, 404, "not_found")
    assert_problem(wrong_method, 405, "method_not_allowed")


# --- headers on every response ---------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    # Near the wall clock (PyJWT checks `iat` against real time), with a fractional part.
    return FrozenClock(start=int(time.time()) - 10 + 0.75)


@pytest.fixture
async def timed_client(
    app_client: AppClientFactory, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(clock=clock) as client:
        yield client


async def test_every_response_has_request_id_and_server_time(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    client = timed_client
    owner = await new_owner(client)
    device = await register_device(client, owner)
    too_big = json_body_of_size(LIMIT + 1)
    responses = {
        "200": await client.get(f"{API}/devices", headers=owner.headers),
        "201": await client.post(
            f"{API}/devices", json={"device_name": "h"}, headers=owner.headers
        ),
        "400": await client.post(f"{API}/devices", content=b"{", headers={**owner.headers, **JSON}),
        "401": await client.get(f"{API}/devices"),
        "404 device": await client.get(device_url(str(uuid.uuid4())), headers=owner.headers),
        "404 route": await client.get("/no/such/route"),
        "405": await client.delete(f"{API}/devices", headers=owner.headers),
        "409": await client.post(
            f"{API}/devices", json={"device_name": "h"}, headers=owner.headers
        ),
        "413": await client.post(f"{API}/devices", content=too_big, headers=JSON),
        "422": await client.get(f"{API}/devices?limit=0", headers=owner.headers),
        "health": await client.get("/healthz"),
        "204": await client.request(
            "DELETE", f"{API}/clients/me", json={"password": PASSWORD}, headers=owner.headers
        ),
    }
    assert device["id"]

    request_ids = set()
    for label, response in responses.items():
        assert label.split()[0] == str(response.status_code) or label == "health", label
        # Whole unix seconds, from the server's clock.
        assert response.headers["x-server-time"] == str(int(clock.time())), label
        request_ids.add(response.headers["x-request-id"])
        assert response.headers["x-request-id"], label
    assert len(request_ids) == len(responses)  # one id per request


async def test_server_time_follows_the_clock(
    timed_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    start = int(clock.time())
    clock.advance(42.5)

    response = await timed_client.get("/healthz")

    assert response.headers["x-server-time"] == str(start + 43)


async def test_a_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "trace-abc.123_XYZ"})

    assert response.headers["x-request-id"] == "trace-abc.123_XYZ"


@pytest.mark.parametrize("unsafe", ["short", "has spaces in it", "x" * 65, "new\\nline-injected"])
async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": unsafe})

    assert response.headers["x-request-id"]
    assert response.headers["x-request-id"] != unsafe


async def test_an_internal_error_is_a_problem_with_the_usual_headers(
    client: httpx.AsyncClient,
) -> None:
    # No public route fails on demand, so this test adds one to the FastAPI app under test.
    async def explode() -> None:
        raise RuntimeError("boom")

    app = client.app  # type: ignore[attr-defined]
    getattr(app, "fastapi", app).add_api_route("/test-only/explode", explode)
    async with non_raising(client) as raw:
        response = await raw.get("/test-only/explode")

    body = assert_problem(response, 500, "internal_error")
    assert "boom" not in body["detail"]
    assert "x-request-id" in response.headers
    assert "x-server-time" in response.headers
