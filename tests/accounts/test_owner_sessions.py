"""Owner sessions (SPEC 2; issue 10 defect 6): tokens name a server-side session, so sign-out,
revocation, a password change and deletion take effect on the next request, on every
instance; sign-ins appear in the audit trail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import API, ISO_UTC, assert_problem
from tests.fixtures.app import AppClientFactory
from tests.fixtures.audit import audit_events
from tests.fixtures.owners import PASSWORD, Owner, new_owner
from tests.fixtures.storage import direct_db

NEW_PASSWORD = "a brand new passphrase"


async def sign_in(
    client: httpx.AsyncClient, owner: Owner, password: str = PASSWORD, **headers: str
) -> Owner:
    response = await client.post(
        f"{API}/auth/token", data={"username": owner.email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    return Owner(owner.id, owner.email, response.json()["access_token"])


def assert_refused(response: httpx.Response, detail_word: str) -> None:
    body = assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert detail_word in body["detail"], body["detail"]


async def me(client: httpx.AsyncClient, owner: Owner) -> httpx.Response:
    return await client.get(f"{API}/clients/me", headers=owner.headers)


async def sessions_of(client: httpx.AsyncClient, owner: Owner) -> list[dict[str, object]]:
    response = await client.get(f"{API}/auth/sessions", headers=owner.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


# --- sign-out --------------------------------------------------------------------------------


async def test_logout_revokes_the_presented_token_only(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    second = await sign_in(client, owner)

    response = await client.post(f"{API}/auth/logout", headers=owner.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert_refused(await me(client, owner), "revoked")
    assert_refused(await client.get(f"{API}/devices", headers=owner.headers), "revoked")
    assert_refused(await client.post(f"{API}/auth/logout", headers=owner.headers), "revoked")
    assert (await me(client, second)).status_code == 200


async def test_logout_on_one_instance_applies_on_another_at_once(
    app_client: AppClientFactory,
) -> None:
    # Two apps over one database (and one data dir, so one JWT key): two instances.
    async with app_client() as first, app_client() as second:
        owner = await new_owner(first)
        assert (await me(second, owner)).status_code == 200

        assert (await first.post(f"{API}/auth/logout", headers=owner.headers)).status_code == 204

        assert_refused(await me(second, owner), "revoked")


async def test_why_a_token_is_refused_is_said(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        assert_refused(await client.get(f"{API}/clients/me"), "no bearer token")
        assert_refused(
            await client.get(f"{API}/clients/me", headers={"Authorization": "Bearer x.y.z"}),
            "invalid",
        )
        clock.advance(3600)
        assert_refused(await me(client, owner), "expired")


# --- listing and revoking sessions ----------------------------------------------------------


async def test_sessions_are_listed_newest_first_with_the_current_one_marked(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    phone = await sign_in(client, owner, **{"User-Agent": "eagate-test-phone/1.0"})

    listed = await sessions_of(client, phone)

    assert len(listed) == 2
    assert all(
        set(item) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
        for item in listed
    )
    newest, oldest = listed
    assert newest["current"] is True
    assert oldest["current"] is False
    assert newest["user_agent"] == "eagate-test-phone/1.0"
    assert newest["ip"] == "127.0.0.1"
    assert ISO_UTC.match(str(newest["created_at"]))
    assert str(newest["id"]) > str(oldest["id"])
    # Another owner's list shows none of these.
    stranger = await new_owner(client)
    assert {item["id"] for item in await sessions_of(client, stranger)}.isdisjoint(
        {item["id"] for item in listed}
    )


async def test_revoking_a_session_signs_its_token_out(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    laptop = await sign_in(client, owner)
    laptop_session = next(s for s in await sessions_of(client, laptop) if s["current"])

    response = await client.delete(
        f"{API}/auth/sessions/{laptop_session['id']}", headers=owner.headers
    )

    assert response.status_code == 204
    assert_refused(await me(client, laptop), "revoked")
    assert (await me(client, owner)).status_code == 200
    assert [s["id"] for s in await sessions_of(client, owner)] != [laptop_session["id"]]
    url = f"{API}/auth/sessions/{laptop_session['id']}"
    again = await client.delete(url, headers=owner.headers)
    assert_problem(again, 404, "session_not_found")


async def test_another_owners_session_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    stranger = await new_owner(client)
    (theirs,) = await sessions_of(client, stranger)

    foreign = await client.delete(f"{API}/auth/sessions/{theirs['id']}", headers=owner.headers)
    missing = await client.delete(f"{API}/auth/sessions/{uuid.uuid4()}", headers=owner.headers)

    assert_problem(foreign, 404, "session_not_found")
    assert foreign.json() == missing.json()
    assert (await me(client, stranger)).status_code == 200


async def test_last_used_at_is_coalesced(app_client: AppClientFactory) -> None:
    clock = FrozenClock(1_800_000_000)
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        (first,) = await sessions_of(client, owner)
        assert first["last_used_at"] == first["created_at"]

        clock.advance(30)
        await me(client, owner)
        (within,) = await sessions_of(client, owner)
        assert within["last_used_at"] == first["created_at"]  # not written on every request

        clock.advance(31)
        await me(client, owner)
        (after,) = await sessions_of(client, owner)
        assert after["last_used_at"] == "2027-01-15T08:01:01Z"


# --- password change -------------------------------------------------------------------------


async def change_password(
    client: httpx.AsyncClient, owner: Owner, current: str, new: str
) -> httpx.Response:
    return await client.post(
        f"{API}/clients/me/password",
        json={"current_password": current, "new_password": new},
        headers=owner.headers,
    )


async def test_password_change_revokes_every_other_session(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    other_device = await sign_in(client, owner)

    response = await change_password(client, owner, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    assert (await me(client, owner)).status_code == 200
    assert_refused(await me(client, other_device), "revoked")
    old = await client.post(
        f"{API}/auth/token", data={"username": owner.email, "password": PASSWORD}
    )
    assert_problem(old, 401, "invalid_credentials")
    assert (await sign_in(client, owner, NEW_PASSWORD)).token
    actions = [event["action"] for event in await audit_events(client, owner)]
    assert "owner.password_changed" in actions


async def test_password_change_with_a_wrong_current_password_is_403(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    other_device = await sign_in(client, owner)

    response = await change_password(client, owner, "not my password", NEW_PASSWORD)

    assert_problem(response, 403, "invalid_credentials")
    assert "not my password" not in response.text
    assert (await me(client, other_device)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD},
        {"new_password": NEW_PASSWORD},
        {"current_password": PASSWORD, "new_password": "x" * 129},
    ],
    ids=["short", "no-new", "no-current", "too-long"],
)
async def test_password_change_validates_its_body(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    owner = await new_owner(client)
    response = await client.post(f"{API}/clients/me/password", json=body, headers=owner.headers)
    assert_problem(response, 422, "validation_error")
    assert PASSWORD not in response.text


# --- deleting the account needs its password -------------------------------------------------


async def test_delete_me_needs_the_password(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    no_body = await client.delete(f"{API}/clients/me", headers=owner.headers)
    wrong = await client.request(
        "DELETE", f"{API}/clients/me", json={"password": "not my password"}, headers=owner.headers
    )

    assert_problem(no_body, 422, "validation_error")
    assert_problem(wrong, 403, "invalid_credentials")
    assert (await me(client, owner)).status_code == 200
    right = await client.request(
        "DELETE", f"{API}/clients/me", json={"password": PASSWORD}, headers=owner.headers
    )
    assert right.status_code == 204
    assert_refused(await me(client, owner), "no longer exists")


async def test_sessions_belong_to_the_account(client: httpx.AsyncClient, database_url: str) -> None:
    owner = await new_owner(client)
    await sign_in(client, owner)
    await client.request(
        "DELETE", f"{API}/clients/me", json={"password": PASSWORD}, headers=owner.headers
    )
    async with direct_db(database_url) as db:
        left = await db.exec_driver_sql(
            "SELECT count(*) FROM owner_sessions WHERE client_id = "
            + ("$1" if db.dialect.name == "postgresql" else "?"),
            (uuid.UUID(owner.id) if db.dialect.name == "postgresql" else uuid.UUID(owner.id).hex,),
        )
        assert left.scalar_one() == 0


# --- sign-ins in the audit trail -------------------------------------------------------------


async def test_sign_ins_and_failures_are_audited_with_the_address(
    app_client: AppClientFactory,
) -> None:
    clock = FrozenClock(1_800_000_010)  # 10 s into a minute
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        wrong = {"username": owner.email, "password": "wrong password 1"}
        first_failure = clock.now()
        for _ in range(3):
            assert (await client.post(f"{API}/auth/token", data=wrong)).status_code == 401
            clock.advance(5)
        clock.advance(60)  # the next minute: a new event
        assert (await client.post(f"{API}/auth/token", data=wrong)).status_code == 401

        events = await audit_events(client, owner)

    failed = [e for e in events if e["action"] == "owner.sign_in_failed"]
    signed_in = [e for e in events if e["action"] == "owner.signed_in"]
    assert [e["detail"]["count"] for e in failed] == [1, 3]  # newest first
    assert failed[1]["at"] == first_failure.isoformat().replace("+00:00", "Z")
    assert all(e["ip"] == "127.0.0.1" for e in failed + signed_in)
    assert len(signed_in) == 1
    assert "wrong password" not in str(events)
    # Stamped with its first failure, not the start of its minute: it sorts after the
    # sign-in that came before it in that minute.
    assert datetime.fromisoformat(failed[1]["at"]) > datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert events.index(failed[1]) < events.index(signed_in[0])


async def test_a_sign_in_checked_against_the_old_password_opens_no_session_after_a_change(
    client: httpx.AsyncClient,
) -> None:
    """A password change must leave no session of the old password. A sign-in whose password
    was verified just before the change commits must not open a session just after it (the
    verification runs outside any transaction): else whoever knows the old password, signing
    in in a loop, keeps a session through the change that was meant to shut them out."""
    owner = await new_owner(client)
    passwords = client.app.state.runtime.passwords  # type: ignore[attr-defined]
    real_verify = passwords.verify
    verified, go_on = asyncio.Event(), asyncio.Event()

    async def verify_then_wait(password_hash: str | None, password: str) -> bool:
        result: bool = await real_verify(password_hash, password)
        if not verified.is_set():  # the sign-in's: verified, then parked before its session
            verified.set()
            await go_on.wait()
        return result

    passwords.verify = verify_then_wait
    try:
        old_password_sign_in = asyncio.create_task(
            client.post(f"{API}/auth/token", data={"username": owner.email, "password": PASSWORD})
        )
        await asyncio.wait_for(verified.wait(), 10)
        changed = await change_password(client, owner, PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 204, changed.text
        go_on.set()
        response = await asyncio.wait_for(old_password_sign_in, 10)
    finally:
        go_on.set()
        del passwords.verify
    assert_problem(response, 401, "invalid_credentials")
    assert response.headers["www-authenticate"] == "Bearer"
    live = await sessions_of(client, owner)
    assert [session["current"] for session in live] == [True]
