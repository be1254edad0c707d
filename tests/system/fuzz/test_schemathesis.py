"""Schemathesis against the app's own OpenAPI document: no 5xx, and every answer documented.

Every operation of the document is fuzzed (positive and negative data; Schemathesis' examples,
coverage and fuzzing phases; a bounded number of examples, derandomized) against the in-process
app over a migrated SQLite database, and over PostgreSQL when EAGATE_TEST_POSTGRES_URL is set.

- Owner routes carry the bearer token of an owner who owns devices and signals; their ids are
  mixed into generated path parameters and bodies, so ids in requests sometimes exist.
- Device routes are signed: each request over the exact method, target and body bytes it is
  sent with, with a fresh nonce and the current time (a requests auth hook, which runs on the
  request as prepared for the wire).

Schemathesis' pytest integration needs the document when the module is collected, so it is
taken from an app built then (built only: ``app.openapi()`` touches no database); the app under
test must serve that very document (checked before it is fuzzed).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.python import asgi
from sqlalchemy.engine import make_url

from eagate.app import create_app
from eagate.http.edge import Edge
from eagate.http.paths import API_PREFIX, DEVICE_API_PREFIX
from eagate.kit.signing import signed_headers
from tests.fixtures.api import assert_problem
from tests.fixtures.app import make_settings
from tests.fixtures.openapi import build_document
from tests.fixtures.owners import PASSWORD, new_email, new_owner, new_owner_sync

SEED = 20261127
MAX_EXAMPLES = 25
# The long poll holds a request up to `wait` seconds: fuzzing keeps that to 0 or 1 s.
MAX_FUZZ_WAIT = 1

SIGNUP = "POST /api/v1/auth/signup"
TOKEN = "POST /api/v1/auth/token"
DELETE_ACCOUNT = "DELETE /api/v1/clients/me"
CHANGE_PASSWORD = "POST /api/v1/clients/me/password"
LOG_OUT = "POST /api/v1/auth/logout"
CREATE_SIGNAL = "POST /api/v1/signals"
ACK = "POST /api/v1/device/ack"
POLL = "GET /api/v1/device/poll"

# Statuses the fuzzing found the app answering that its document once did not list; the
# document lists them now (test_answered_status_is_documented keeps it so).
MALFORMED_JSON = "400 malformed_json (SPEC 1: a body that is not JSON)"
TOO_LARGE = "413 payload_too_large (SPEC 1: a body over 64 KiB)"
JSON_BODY_OPERATIONS = (
    SIGNUP,
    "POST /api/v1/devices",
    "PATCH /api/v1/devices/{device_id}",
    "POST /api/v1/devices/{device_id}/revoke",
    CREATE_SIGNAL,
    ACK,
)
FOUND_BY_FUZZING: dict[tuple[str, int], str] = {
    **{(label, 400): MALFORMED_JSON for label in JSON_BODY_OPERATIONS},
    **{(label, 413): TOO_LARGE for label in (*JSON_BODY_OPERATIONS, TOKEN)},
    (SIGNUP, 409): "409 email_taken (SPEC 2)",
}


def documented_status(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Schemathesis' status_code_conformance."""
    result: bool | None = schemathesis.checks.status_code_conformance(ctx, response, case)
    return result


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    documented_status,
    schemathesis.checks.content_type_conformance,
]


DOCUMENT = build_document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    ),
)


@dataclass
class Server:
    """The app under test, started by Schemathesis' ASGI client (on that client's own event
    loop), and what each operation's fuzzing was answered."""

    app: Edge
    http: requests.Session
    backend: str
    statuses: dict[str, Counter[int]] = field(default_factory=dict)


@dataclass
class Owner:
    """Who fuzzing acts as: an owner with devices and signals, and one of its devices."""

    http: requests.Session
    email: str
    token: str
    signer: dict[str, Any] = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{API_PREFIX}{path}", json=body, headers=self.bearer)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def sign_in(http: requests.Session, email: str) -> str:
    """A new session's token."""
    token = http.post(f"{API_PREFIX}/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    access_token: str = token.json()["access_token"]
    return access_token


def sign_up(http: requests.Session) -> Owner:
    signed_up = new_owner_sync(http, new_email("fuzz"))
    return Owner(http, signed_up.email, signed_up.token)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Fuzzing fails many sign-ins (and password checks) from one address and signs up many
    # owners: the throttles are not what this test is about.
    app = create_app(
        make_settings(
            database_url,
            tmp_path_factory.mktemp("fuzz"),
            sign_in_failures_per_ip=10**6,
            sign_in_failures_per_email=10**6,
            sign_ups_per_ip=10**6,
        )
    )
    try:
        with asgi.get_client(app) as http:
            served = http.get("/openapi.json")
            assert served.status_code == 200, served.text
            assert served.json() == DOCUMENT, "the app serves another document than was fuzzed"
            yield Server(app=app, http=http, backend=make_url(database_url).get_backend_name())
    finally:
        asgi.shutdown_lifespans()


# Ids and values the hooks below mix into generated data, for the operation being fuzzed.
REAL: dict[str, Any] = {}


@pytest.fixture
def owner(server: Server) -> Iterator[Owner]:
    """A fresh owner for each operation, so one operation's fuzzing (renames, revocations,
    cancellations) does not decide what the next one can reach."""
    owner = sign_up(server.http)
    owner.signer = owner.create("/devices", {"device_name": "fuzz signer"})
    devices = [owner.create("/devices", {"device_name": f"fuzz pool {n}"}) for n in (1, 2)]
    # Sent to every active device, the signer included: there is something to poll and ack.
    signals = [
        owner.create("/signals", {"instrument": "EURUSD", "side": "buy", "volume": 0.1}),
        owner.create("/signals", {"instrument": "XAUUSD", "side": "sell", "volume": 2}),
    ]
    # Other sessions of the owner, for the session routes to revoke (never the fuzzing one).
    for _ in range(2):
        sign_in(server.http, owner.email)
    listed = server.http.get(f"{API_PREFIX}/auth/sessions", headers=owner.bearer).json()
    REAL.update(
        # The signer's id stays out of owner paths: revoking or rotating it would leave the
        # device routes nothing but 401s to exercise.
        device_id=[device["id"] for device in devices],
        signal_id=[signal["id"] for signal in signals],
        session_id=[session["id"] for session in listed if not session["current"]],
        email=owner.email,
    )
    yield owner
    REAL.clear()


def with_real_ids(values: Any) -> st.SearchStrategy[Any]:
    """The generated values, or the same with one id replaced by an existing one."""
    if not isinstance(values, dict) or not REAL:
        # Schemathesis draws its examples phase at collection, before any id exists.
        return st.just(values)
    choices = [values]
    for name in ("device_id", "signal_id", "session_id"):
        if name in values:
            choices += [{**values, name: real} for real in REAL[name]]
    return st.sampled_from(choices)


def plausible_signal(body: dict[str, Any]) -> dict[str, Any]:
    """A generated signal nudged towards acceptance: numbers with at most 5 decimals, a price
    where the order type needs one, existing target devices."""
    body = dict(body)
    for name in ("volume", "price", "sl", "tp"):
        value = body.get(name)
        if isinstance(value, str) or (name == "volume" and value is None):
            body[name] = 1.5
        elif isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = min(max(round(value, 5), 0.00001), 1000)
    if body.get("order_type") in ("limit", "stop") and body.get("price") is None:
        body["price"] = 1.0845
    if body.get("device_ids") is not None:
        body["device_ids"] = REAL["device_id"]
    return body


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: Any
) -> st.SearchStrategy[Any]:
    return with_real_ids(path_parameters)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Positive data that the document alone cannot describe: existing ids, a real account's
    email, signals whose numbers the server can store exactly."""
    operation = context.operation
    if operation is None or not isinstance(body, dict) or not REAL:
        return st.just(body)
    label = operation.label
    if label == ACK:
        placed = {"signal_id": REAL["signal_id"][0], "status": "placed", "broker_ticket": "T-1"}
        return st.one_of(with_real_ids(body), st.just(placed))
    if label == CREATE_SIGNAL:
        return st.sampled_from([body, plausible_signal(body)])
    if label == SIGNUP:
        unique = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
        return st.sampled_from([body, {**body, "email": unique}])
    if label == TOKEN:
        return st.sampled_from([body, {**body, "username": REAL["email"], "password": PASSWORD}])
    if label == DELETE_ACCOUNT:
        return st.sampled_from([body, {"password": PASSWORD}])
    if label == CHANGE_PASSWORD:
        # "Changed" to the same password, so the owner keeps signing in with it.
        return st.sampled_from([body, {"current_password": PASSWORD, "new_password": PASSWORD}])
    return st.just(body)


class DeviceSignature(requests.auth.AuthBase):
    """Signs a request as prepared: the exact target and body bytes that go on the wire, a
    fresh nonce and the current time."""

    def __init__(self, device_id: str, secret: str) -> None:
        self.device_id = device_id
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        assert isinstance(body, bytes), type(body)
        assert request.method is not None
        request.headers.update(
            signed_headers(
                secret=self.secret,
                device_id=self.device_id,
                method=request.method,
                path_and_query=request.path_url,
                body=body,
                timestamp=int(time.time()),
            )
        )
        return request


def has_nul(body: Any) -> bool:
    return isinstance(body, dict) and any("\x00" in str(value) for value in body.values())


def cap_long_poll(case: schemathesis.Case) -> None:
    wait = case.query.get("wait") if isinstance(case.query, dict) else None
    if isinstance(wait, int) and not isinstance(wait, bool) and wait > MAX_FUZZ_WAIT:
        case.query["wait"] = MAX_FUZZ_WAIT
    elif isinstance(wait, str) and wait.isdigit() and int(wait) > MAX_FUZZ_WAIT:
        case.query["wait"] = str(MAX_FUZZ_WAIT)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_operation_conforms_to_document(
    case: schemathesis.Case, server: Server, owner: Owner
) -> None:
    label = case.operation.label
    kwargs: dict[str, Any] = {"app": server.app}
    if case.path.startswith(DEVICE_API_PREFIX):
        kwargs["auth"] = DeviceSignature(owner.signer["id"], owner.signer["secret"])
        if label == POLL:
            cap_long_poll(case)
    elif label == DELETE_ACCOUNT:
        # Deleting the fuzzing owner would leave the operation's later examples only 401s.
        kwargs["headers"] = sign_up(server.http).bearer
    elif label == LOG_OUT:
        # Likewise signing its token out: each example signs out a session of its own.
        kwargs["headers"] = {"Authorization": f"Bearer {sign_in(server.http, owner.email)}"}
    elif case.operation.definition.raw.get("security"):
        kwargs["headers"] = owner.bearer
    response = case.call(**kwargs)
    server.statuses.setdefault(label, Counter())[response.status_code] += 1
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def test_fuzzing_reached_every_success(server: Server) -> None:
    """Guards the fuzzing itself: had the bearer token or the signing gone wrong, every
    operation would have been answered 401 (documented, so the checks above pass)."""
    if not server.statuses:
        pytest.skip("no operation was fuzzed in this session")
    never = {
        label: dict(statuses)
        for label, statuses in server.statuses.items()
        if not any(200 <= status < 300 for status in statuses)
    }
    assert not never, f"operations never answered 2xx while fuzzed: {never}"


# -- Findings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "status"),
    [pytest.param(*key, id=f"{key[0]} {key[1]}") for key in sorted(FOUND_BY_FUZZING)],
)
def test_answered_status_is_documented(label: str, status: int) -> None:
    method, path = label.split(" ", 1)
    assert str(status) in DOCUMENT["paths"][path][method.lower()]["responses"]


DEVICE_SIGNATURE_HEADERS = {"X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"}


@pytest.mark.parametrize("label", ["GET /api/v1/device/me", POLL, ACK])
def test_device_routes_require_all_four_signing_headers(label: str) -> None:
    method, path = label.split(" ", 1)
    security = DOCUMENT["paths"][path][method.lower()]["security"]
    # OpenAPI: the list holds alternatives; one object's schemes are all required together.
    assert [set(requirement) for requirement in security] == [DEVICE_SIGNATURE_HEADERS]


def branches(schema_: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema's alternatives, nested anyOf/oneOf flattened."""
    alternatives = schema_.get("anyOf") or schema_.get("oneOf")
    if not alternatives:
        yield schema_
        return
    for alternative in alternatives:
        yield from branches(alternative)


@pytest.mark.parametrize(
    ("name", "bounds"),
    [
        ("volume", {"exclusiveMinimum": 0, "maximum": 1000}),
        ("price", {"exclusiveMinimum": 0}),
        ("sl", {"exclusiveMinimum": 0}),
        ("tp", {"exclusiveMinimum": 0}),
    ],
    ids=["volume", "price", "sl", "tp"],
)
def test_signal_numbers_are_documented_as_bounded_numbers(
    name: str, bounds: dict[str, int]
) -> None:
    field_schema = DOCUMENT["components"]["schemas"]["SignalCreate"]["properties"][name]
    alternatives = [b for b in branches(field_schema) if b.get("type") != "null"]
    assert [b.get("type") for b in alternatives] == ["number"], field_schema
    assert bounds.items() <= alternatives[0].items(), field_schema


async def test_sign_in_with_a_nul_character_is_refused(client: httpx.AsyncClient) -> None:
    """Found by the fuzzing above: `POST /auth/token` with a NUL in `username`."""
    owner = await new_owner(client)
    for username in ("\x00" + owner.email, owner.email + "\x00", "\x00"):
        response = await client.post(
            f"{API_PREFIX}/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert_problem(response, 401, "invalid_credentials")
