"""Owner accounts: sign-up, tokens, the signed-in owner, account deletion (SPEC section 2)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest
import sqlalchemy as sa

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import API, ISO_UTC, assert_problem
from tests.fixtures.app import AppClientFactory, non_raising
from tests.fixtures.devices import device_url, get_device, register_device, rename
from tests.fixtures.owners import PASSWORD, Owner, new_owner
from tests.fixtures.storage import (
    audit_table,
    clients_table,
    count_rows,
    devices_table,
    direct_db,
    tables_referring_to,
    tables_with_column,
)

# Claims shaped like the server's own, so only the signature (or algorithm) is wrong.
WELL_FORMED_CLAIMS = {
    "sub": str(uuid.uuid4()),
    "aud": "eagate-owner",
    "iat": int(time.time()),
    "exp": int(time.time()) + 600,
}

# Distinctive, so finding it in a response cannot be a coincidence.
SECRET_PASSWORD = "Pw-never-echo-7Q2x"


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = SECRET_PASSWORD
) -> httpx.Response:
    return await client.post(f"{API}/auth/signup", json={"email": email, "password": password})


async def token_for(
    client: httpx.AsyncClient, username: str, password: str = SECRET_PASSWORD
) -> httpx.Response:
    return await client.post(f"{API}/auth/token", data={"username": username, "password": password})


async def delete_me(
    client: httpx.AsyncClient, owner: Owner, password: str = PASSWORD
) -> httpx.Response:
    return await client.request(
        "DELETE", f"{API}/clients/me", json={"password": password}, headers=owner.headers
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_not_authenticated(response: httpx.Response) -> None:
    assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def assert_password_not_echoed(response: httpx.Response, password: str) -> None:
    assert password not in response.text
    assert all(password not in value for value in response.headers.values())


# --- sign-up ---------------------------------------------------------------------------------


async def test_signup_returns_the_account(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await sign_up(client, email)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"id", "email", "created_at"}
    assert uuid.UUID(body["id"]).version == 7
    assert body["email"] == email
    assert ISO_UTC.match(body["created_at"])
    assert_password_not_echoed(response, SECRET_PASSWORD)


async def test_signup_with_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await sign_up(client, email)).status_code == 201

    again = await sign_up(client, email, password="another password 123")

    assert_problem(again, 409, "email_taken")


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(str.upper, id="upper"),
        pytest.param(str.title, id="title"),
        pytest.param(lambda email: f"  {email.upper()} ", id="padded-upper"),
    ],
)
async def test_signup_email_is_unique_case_insensitively(
    client: httpx.AsyncClient, variant: Callable[[str], str]
) -> None:
    email = unique_email()
    assert (await sign_up(client, email)).status_code == 201

    again = await sign_up(client, variant(email))

    assert_problem(again, 409, "email_taken")
    assert_password_not_echoed(again, SECRET_PASSWORD)


async def test_password_length_bounds_are_inclusive(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, unique_email(), "p" * 10)).status_code == 201
    assert (await sign_up(client, unique_email(), "p" * 128)).status_code == 201


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("Pw-9chars", id="9-chars"),
        pytest.param("Pw-too-long-" * 10 + "123456789", id="129-chars"),
        pytest.param("", id="empty"),
    ],
)
async def test_signup_rejects_password_length(client: httpx.AsyncClient, password: str) -> None:
    assert len(password) in (0, 9, 129)
    response = await sign_up(client, unique_email(), password)

    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["body.password"]
    if password:
        assert_password_not_echoed(response, password)


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "@example.com",
        "someone@",
        "someone@localhost",
        "two words@example.com",
        "",
        "a" * 320 + "@example.com",
    ],
)
async def test_signup_rejects_a_bad_email(client: httpx.AsyncClient, email: str) -> None:
    response = await sign_up(client, email)

    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["body.email"]
    assert_password_not_echoed(response, SECRET_PASSWORD)


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f"], ids=["nul", "escape", "del"])
async def test_signup_rejects_an_email_with_a_control_character(
    client: httpx.AsyncClient, control: str
) -> None:
    async with non_raising(client) as raw:
        response = await sign_up(raw, f"bad{control}{unique_email()}")

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"email": "x@example.com"}, id="missing-password"),
        pytest.param({"password": SECRET_PASSWORD}, id="missing-email"),
        pytest.param(
            {"email": "x@example.com", "password": SECRET_PASSWORD, "role": "admin"},
            id="unknown-field",
        ),
        pytest.param(
            {"email": "x@example.com", "password": 1234567890123}, id="password-not-a-string"
        ),
    ],
)
async def test_signup_rejects_a_bad_body_without_echoing_it(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post(f"{API}/auth/signup", json=body)

    assert_problem(response, 422, "validation_error")
    assert_password_not_echoed(response, SECRET_PASSWORD)
    assert "1234567890123" not in response.text


async def test_password_is_not_echoed_when_it_is_an_unexpected_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/auth/signup",
        json={"email": unique_email(), "password": "short", "password_confirm": SECRET_PASSWORD},
    )

    assert_problem(response, 422, "validation_error")
    assert_password_not_echoed(response, SECRET_PASSWORD)
    assert_password_not_echoed(response, "short")


# --- tokens ----------------------------------------------------------------------------------


async def test_token_is_a_bearer_token_with_expiry(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email)

    response = await token_for(client, email)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600  # EAGATE_ACCESS_TOKEN_TTL_SECONDS default
    assert body["access_token"]
    assert_password_not_echoed(response, SECRET_PASSWORD)
    me = await client.get(f"{API}/clients/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200


async def test_token_accepts_the_email_in_another_case(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email)

    response = await token_for(client, f" {email.upper()} ")

    assert response.status_code == 200, response.text


async def test_token_accepts_the_oauth2_password_grant_type(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email)

    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": email, "password": SECRET_PASSWORD},
    )

    assert response.status_code == 200, response.text


async def test_token_with_a_wrong_password_is_401(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email)

    response = await token_for(client, email, password="Wrong-password-1")

    assert_problem(response, 401, "invalid_credentials")
    assert_password_not_echoed(response, "Wrong-password-1")


async def test_token_for_an_unknown_email_looks_like_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await sign_up(client, email)
    wrong_password = await token_for(client, email, password="Wrong-password-1")

    unknown = await token_for(client, unique_email("nobody"))

    assert_problem(unknown, 401, "invalid_credentials")
    # The same answer in both cases, so the endpoint does not reveal which emails exist.
    assert unknown.json() == wrong_password.json()


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"password": SECRET_PASSWORD}, id="missing-username"),
        pytest.param({"username": "x@example.com"}, id="missing-password"),
        pytest.param(
            {"grant_type": "client_credentials", "username": "x@example.com", "password": "p"},
            id="wrong-grant-type",
        ),
    ],
)
async def test_token_form_fields_are_validated(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await client.post(f"{API}/auth/token", data=form)

    assert_problem(response, 422, "validation_error")
    assert_password_not_echoed(response, SECRET_PASSWORD)


async def test_token_takes_a_form_not_json(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email)

    response = await client.post(
        f"{API}/auth/token", json={"username": email, "password": SECRET_PASSWORD}
    )

    assert_problem(response, 422, "validation_error")
    assert_password_not_echoed(response, SECRET_PASSWORD)


# --- the signed-in owner ---------------------------------------------------------------------


async def test_me_returns_the_signed_in_owner(client: httpx.AsyncClient) -> None:
    email = unique_email()
    signup = (await sign_up(client, email)).json()
    token = (await token_for(client, email)).json()["access_token"]

    response = await client.get(f"{API}/clients/me", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == signup


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param(
            {"Authorization": "Bearer " + jwt.encode(WELL_FORMED_CLAIMS, "k" * 32, "HS256")},
            id="signed-with-another-key",
        ),
        pytest.param(
            {"Authorization": "Bearer " + jwt.encode(WELL_FORMED_CLAIMS, None, "none")},
            id="alg-none",
        ),
    ],
)
async def test_me_without_a_valid_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(f"{API}/clients/me", headers=headers)

    assert_not_authenticated(response)


async def test_token_for_another_audience_is_refused(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    # Forged with the server's own key (from the app under test) to isolate the claim check.
    key = client.app.state.runtime.keys.jwt_secret  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {"sub": owner.id, "iat": now, "exp": now + 600}

    for bad in ({**claims, "aud": "someone-else"}, claims, {**claims, "exp": None}):
        forged = jwt.encode({k: v for k, v in bad.items() if v is not None}, key, "HS256")
        response = await client.get(f"{API}/clients/me", headers=bearer(forged))
        assert_not_authenticated(response)


async def test_token_expires_after_the_configured_ttl(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)

        clock.advance(3599)
        assert (await client.get(f"{API}/clients/me", headers=owner.headers)).status_code == 200

        clock.advance(1)  # now exactly at exp: expired
        assert_not_authenticated(await client.get(f"{API}/clients/me", headers=owner.headers))
        assert_not_authenticated(await client.get(f"{API}/devices", headers=owner.headers))


async def test_token_ttl_follows_the_setting(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock, access_token_ttl_seconds=120) as client:
        email = unique_email()
        await sign_up(client, email)
        token = await token_for(client, email)
        assert token.json()["expires_in"] == 120

        clock.advance(121)

        response = await client.get(
            f"{API}/clients/me", headers=bearer(token.json()["access_token"])
        )
        assert_not_authenticated(response)


# Fixed, not random: pytest-xdist workers must collect the same test ids.
SOME_DEVICE_ID = uuid.UUID("5b1c6a8e-2f4d-4c1e-9a7b-0d3e8f6a1c24")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/clients/me"),
        ("DELETE", "/clients/me"),
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("GET", f"/devices/{SOME_DEVICE_ID}"),
        ("PATCH", f"/devices/{SOME_DEVICE_ID}"),
        ("POST", f"/devices/{SOME_DEVICE_ID}/revoke"),
        ("POST", f"/devices/{SOME_DEVICE_ID}/rotate-secret"),
        ("GET", "/audit"),
    ],
)
async def test_owner_routes_require_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    body = {"device_name": "x"} if method in ("POST", "PATCH") else None

    response = await client.request(method, API + path, json=body)

    assert_not_authenticated(response)


# --- deleting the account --------------------------------------------------------------------


async def make_owner_with_history(client: httpx.AsyncClient) -> tuple[Owner, list[str]]:
    """An owner with two devices, a signal delivered to one, and audit events."""
    owner = await new_owner(client)
    first = await register_device(client, owner)
    second = await register_device(client, owner)
    assert (await rename(client, owner, first["id"], f"renamed {uuid.uuid4().hex[:6]}")).is_success
    signal = await client.post(
        f"{API}/signals",
        json={"instrument": "EURUSD", "side": "buy", "volume": 0.1, "device_ids": [first["id"]]},
        headers=owner.headers,
    )
    assert signal.status_code == 201, signal.text
    revoked = await client.post(device_url(second["id"], "revoke"), headers=owner.headers)
    assert revoked.status_code == 200
    return owner, [first["id"], second["id"]]


async def test_delete_me_removes_the_account_and_everything_it_owns(
    client: httpx.AsyncClient, database_url: str
) -> None:
    owner, devices = await make_owner_with_history(client)
    other, other_devices = await make_owner_with_history(client)
    async with direct_db(database_url) as db:
        other_audit_before = await count_rows(db, audit_table, client_id=other.id)
        assert await count_rows(db, devices_table, client_id=owner.id) == 2
        assert await count_rows(db, audit_table, client_id=owner.id) >= 4
        deliveries = sa.table("deliveries", sa.column("device_id", sa.Uuid()))
        assert await count_rows(db, deliveries, device_id=devices[0]) == 1

    response = await delete_me(client, owner)

    assert response.status_code == 204
    assert response.content == b""
    async with direct_db(database_url) as db:
        assert await count_rows(db, clients_table, id=owner.id) == 0
        assert await count_rows(db, devices_table, client_id=owner.id) == 0
        assert await count_rows(db, audit_table, client_id=owner.id) == 0
        # Nothing else that refers to the owner or its devices survives (signals, deliveries).
        for table in await tables_with_column(db, "client_id"):
            owned = sa.table(table, sa.column("client_id", sa.Uuid()))
            assert await count_rows(db, owned, client_id=owner.id) == 0, table
        for table in await tables_referring_to(db, "devices"):
            owned = sa.table(table, sa.column("device_id", sa.Uuid()))
            for device_id in devices:
                assert await count_rows(db, owned, device_id=device_id) == 0, table
        # The other owner is untouched.
        assert await count_rows(db, clients_table, id=other.id) == 1
        assert await count_rows(db, devices_table, client_id=other.id) == 2
        assert await count_rows(db, audit_table, client_id=other.id) == other_audit_before
    for device_id in other_devices:
        assert (await get_device(client, other, device_id))["id"] == device_id


async def test_deleted_account_token_and_password_stop_working(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    assert (await delete_me(client, owner)).status_code == 204

    assert_not_authenticated(await client.get(f"{API}/clients/me", headers=owner.headers))
    assert_not_authenticated(await client.get(f"{API}/devices", headers=owner.headers))
    assert_not_authenticated(await delete_me(client, owner))
    assert_problem(await token_for(client, owner.email, PASSWORD), 401, "invalid_credentials")


async def test_email_can_sign_up_again_after_the_account_is_deleted(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    await delete_me(client, owner)

    again = await sign_up(client, owner.email)

    assert again.status_code == 201, again.text
    assert again.json()["id"] != owner.id
    # The old token does not come back to life for the new account.
    assert_not_authenticated(await client.get(f"{API}/clients/me", headers=owner.headers))


async def test_everything_an_owner_owns_cascades_in_the_database(database_url: str) -> None:
    # SPEC: deletion is done by database-level cascades, so every reference to clients must
    # say ON DELETE CASCADE (an application-side delete would miss rows made concurrently).
    async with direct_db(database_url) as db:
        foreign_keys = await db.run_sync(
            lambda sync: {
                table: sa.inspect(sync).get_foreign_keys(table)
                for table in sa.inspect(sync).get_table_names()
            }
        )

    to_clients = [
        (table, fk)
        for table, fks in foreign_keys.items()
        for fk in fks
        if fk["referred_table"] == "clients"
    ]
    assert {table for table, _ in to_clients} >= {"devices", "audit_events"}
    for table, fk in to_clients:
        assert (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE", table


async def test_passwords_are_stored_as_argon2id_hashes(
    client: httpx.AsyncClient, database_url: str
) -> None:
    email = unique_email()
    signup = await sign_up(client, email)
    hashes = sa.table("clients", sa.column("id", sa.Uuid()), sa.column("password_hash"))

    async with direct_db(database_url) as db:
        stored = (
            await db.execute(
                sa.select(hashes.c.password_hash).where(
                    hashes.c.id == uuid.UUID(signup.json()["id"])
                )
            )
        ).scalar_one()

    assert stored.startswith("$argon2id$")
    assert SECRET_PASSWORD not in stored
