"""Dashboard sign-out revokes the session (issue 10, defect 6): the old cookie value, and the
same value sent as a bearer token, are refused afterwards."""

from __future__ import annotations

import httpx

from tests.fixtures.api import assert_problem
from tests.fixtures.owners import PASSWORD, new_email
from tests.fixtures.web import csrf_token


async def dashboard_sign_up(client: httpx.AsyncClient) -> str:
    form = await client.get("/ui/signup")
    response = await client.post(
        "/ui/signup",
        data={
            "csrf_token": csrf_token(form.text),
            "email": new_email(),
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    token = client.cookies.get("eagate_session")
    assert token
    return token


async def test_sign_out_refuses_the_old_cookie_and_the_same_token_as_bearer(
    client: httpx.AsyncClient,
) -> None:
    token = await dashboard_sign_up(client)
    assert (await client.get("/ui")).status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/clients/me", headers=bearer)).status_code == 200

    page = await client.get("/ui")
    signed_out = await client.post("/ui/signout", data={"csrf_token": csrf_token(page.text)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/ui/signin?notice=signed_out"

    # A copy of the cookie kept from before (a stolen one, or a browser that ignored the
    # deletion) no longer opens the dashboard...
    assert client.cookies.get("eagate_session") is None
    replayed = await client.get("/ui", headers={"Cookie": f"eagate_session={token}"})
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/ui/signin")
    # ...nor the API.
    response = await client.get("/api/v1/clients/me", headers=bearer)
    body = assert_problem(response, 401, "not_authenticated")
    assert "revoked" in body["detail"]


async def test_a_session_revoked_through_the_api_signs_the_dashboard_out(
    client: httpx.AsyncClient,
) -> None:
    token = await dashboard_sign_up(client)
    bearer = {"Authorization": f"Bearer {token}"}

    assert (await client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204

    page = await client.get("/ui")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/signin")
