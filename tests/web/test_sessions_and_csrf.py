"""The dashboard's session cookie, CSRF protection, headers and escaping, over plain HTTP
against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.databases import (
    POSTGRES_URL,
    create_postgres_database,
    drop_postgres_database,
    require_service,
)
from tests.fixtures.owners import PASSWORD, new_email
from tests.fixtures.servers import ServerProcess, eagate_serve
from tests.fixtures.web import csrf_token, post_form, register, sign_up

pytestmark = pytest.mark.slow


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def device_names_listed(http: httpx.Client) -> list[str]:
    page = http.get("/ui?show=all")
    assert page.status_code == 200
    return re.findall(r'class="device-link" href="[^"]+">([^<]+)</a>', page.text)


def test_form_posts_need_the_session_csrf_token_and_the_same_origin(
    http: httpx.Client, server: ServerProcess
) -> None:
    sign_up(http)
    token = csrf_token(http.get("/ui/devices/new").text)

    refused = {
        "no token": http.post("/ui/devices", data={"device_name": "no token"}),
        "wrong token": http.post(
            "/ui/devices", data={"device_name": "wrong token", "csrf_token": "0" * 64}
        ),
        "other origin": http.post(
            "/ui/devices",
            data={"device_name": "other origin", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        ),
        "opaque origin": http.post(
            "/ui/devices",
            data={"device_name": "opaque origin", "csrf_token": token},
            headers={"Origin": "null"},
        ),
        "other referer": http.post(
            "/ui/devices",
            data={"device_name": "other referer", "csrf_token": token},
            headers={"Referer": "https://evil.example/form.html"},
        ),
        "cross-site fetch": http.post(
            "/ui/devices",
            data={"device_name": "cross-site fetch", "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        ),
    }
    for case, response in refused.items():
        assert response.status_code == 403, case
        assert response.headers["content-type"].startswith("text/html"), case
        assert "Request refused" in response.text, case
    assert device_names_listed(http) == []

    accepted = http.post(
        "/ui/devices",
        data={"device_name": "same origin", "csrf_token": token},
        headers={"Origin": server.url, "Referer": f"{server.url}/ui/devices/new"},
    )
    assert accepted.status_code == 201
    assert device_names_listed(http) == ["same origin"]


def test_a_csrf_token_only_works_with_its_own_session(server: ServerProcess) -> None:
    with (
        httpx.Client(base_url=server.url) as alice,
        httpx.Client(base_url=server.url) as mallory,
    ):
        sign_up(alice)
        sign_up(mallory)
        mallory_token = csrf_token(mallory.get("/ui/devices/new").text)
        alice_token = csrf_token(alice.get("/ui/devices/new").text)
        assert alice_token != mallory_token
        response = alice.post(
            "/ui/devices", data={"device_name": "planted", "csrf_token": mallory_token}
        )
        assert response.status_code == 403
        assert device_names_listed(alice) == []


def test_sign_in_and_sign_up_forms_are_bound_to_the_visitor(http: httpx.Client) -> None:
    email = new_email()
    # Without the visitor cookie the page set, a token (even a real one) is refused.
    token = csrf_token(http.get("/ui/signup").text)
    with httpx.Client(base_url=str(http.base_url)) as stranger:
        forged = stranger.post(
            "/ui/signup",
            data={
                "csrf_token": token,
                "email": email,
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert forged.status_code == 403
        login_forged = stranger.post(
            "/ui/signin", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert login_forged.status_code == 403
    sign_up(http, email)


def test_session_cookie_attributes_and_sign_out(http: httpx.Client, server: ServerProcess) -> None:
    email = new_email()
    form = http.get("/ui/signup")
    visitor_cookie = form.headers["set-cookie"]
    assert "HttpOnly" in visitor_cookie
    assert "SameSite=lax" in visitor_cookie
    response = http.post(
        "/ui/signup",
        data={
            "csrf_token": csrf_token(form.text),
            "email": email,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    session_cookie = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("eagate_session=")
    )
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    assert "Path=/ui" in session_cookie
    assert "Max-Age=3600" in session_cookie
    assert "Secure" not in session_cookie  # plain http here

    # Signed in, the sign-in and sign-up pages lead to the dashboard.
    assert http.get("/ui/signin").headers["location"] == "/ui"
    assert http.get("/ui/signup").headers["location"] == "/ui"

    signed_out = post_form(http, "/ui", "/ui/signout")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/ui/signin?notice=signed_out"
    assert http.cookies.get("eagate_session") is None
    assert http.get("/ui").headers["location"] == "/ui/signin?next=%2Fui"


def test_the_session_cookie_is_secure_over_https(server: ServerProcess) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (a TLS-terminating proxy on the host).
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-Proto": "https"}) as http:
        form = http.get("/ui/signup")
        visitor_cookie = form.headers["set-cookie"]
        assert "Secure" in visitor_cookie
        # httpx (rightly) keeps a Secure cookie off this plain-http connection: send it as
        # the browser behind the proxy would.
        response = http.post(
            "/ui/signup",
            data={
                "csrf_token": csrf_token(form.text),
                "email": new_email(),
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
            headers={"Cookie": visitor_cookie.split(";")[0]},
        )
        assert response.status_code == 303
        session_cookie = next(
            value
            for value in response.headers.get_list("set-cookie")
            if value.startswith("eagate_session=")
        )
        assert "Secure" in session_cookie


def account_elsewhere(http: httpx.Client) -> str:
    """An account made in another browser; its email."""
    with httpx.Client(base_url=str(http.base_url)) as elsewhere:
        return sign_up(elsewhere)


def test_pages_need_a_session_and_come_back_after_sign_in(http: httpx.Client) -> None:
    email = account_elsewhere(http)
    for path in ("/ui", "/ui/devices/new", "/ui/signals", "/ui/audit?limit=5"):
        response = http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/signin?next=")

    form = http.get("/ui/signin?next=%2Fui%2Faudit%3Flimit%3D5")
    assert 'name="next" value="/ui/audit?limit=5"' in form.text
    signed_in = http.post(
        "/ui/signin",
        data={
            "csrf_token": csrf_token(form.text),
            "email": email,
            "password": PASSWORD,
            "next": "/ui/audit?limit=5",
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/ui/audit?limit=5"

    # Never onwards to another site.
    for target in ("https://evil.example/", "//evil.example/ui", "/\\evil.example", "/api/v1"):
        page = http.get("/ui/signin", params={"next": target})
        assert page.headers["location"] == "/ui", target

    # An htmx refresh whose session ended asks for a full-page redirect instead.
    with httpx.Client(base_url=str(http.base_url)) as signed_out:
        fragment = signed_out.get("/ui/devices/table", headers={"HX-Request": "true"})
        assert fragment.status_code == 204
        assert fragment.headers["hx-redirect"] == "/ui/signin"


def test_wrong_password_and_throttling_show_in_the_form(http: httpx.Client) -> None:
    email = account_elsewhere(http)
    statuses = []
    for _ in range(12):
        form = http.get("/ui/signin")
        response = http.post(
            "/ui/signin",
            data={"csrf_token": csrf_token(form.text), "email": email, "password": "wrong" * 3},
        )
        statuses.append(response.status_code)
        assert 'value="' + email + '"' in response.text  # the email is kept in the form
    assert statuses[0] == 400
    assert (
        "Wrong email or password"
        in http.post(
            "/ui/signin",
            data={
                "csrf_token": csrf_token(http.get("/ui/signin").text),
                "email": new_email(),
                "password": "wrong" * 3,
            },
        ).text
    )
    # The API's brute-force limit (10 failures per email) holds for the dashboard too.
    assert statuses[-1] == 429
    assert "Too many failed attempts" in response.text
    assert int(response.headers["retry-after"]) > 0


def test_security_headers_and_one_time_secret(http: httpx.Client, server: ServerProcess) -> None:
    sign_up(http)
    page = http.get("/ui")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "private, no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script anywhere
    assert 'src="http' not in page.text  # nothing from a CDN

    registered = post_form(http, "/ui/devices/new", "/ui/devices", device_name="EA one")
    assert registered.status_code == 201
    assert registered.headers["cache-control"] == "no-store"
    secret = re.search(r'id="device-secret" class="copy-value">([0-9a-f]{64})<', registered.text)
    device_id = re.search(r'id="device-id" class="copy-value">([0-9a-f-]{36})<', registered.text)
    assert secret
    assert device_id
    assert f'<code id="allowed-url" class="copy-value">{server.url}</code>' in registered.text
    for path in (f"/ui/devices/{device_id.group(1)}", "/ui", "/ui/audit"):
        assert secret.group(1) not in http.get(path).text

    rotated = post_form(
        http,
        f"/ui/devices/{device_id.group(1)}/rotate",
        f"/ui/devices/{device_id.group(1)}/rotate",
    )
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = re.search(r'id="device-secret" class="copy-value">([0-9a-f]{64})<', rotated.text)
    assert new_secret
    assert new_secret.group(1) != secret.group(1)

    static = http.get("/ui/static/htmx.min.js")
    assert static.status_code == 200
    assert static.headers["content-type"].startswith("text/javascript")
    assert secret.group(1) not in server.log()
    assert new_secret.group(1) not in server.log()


def test_everything_shown_is_escaped(http: httpx.Client) -> None:
    sign_up(http)
    name = '<script>alert("x")</script> & <b>bold</b>'
    device_id, _secret = register(http, name)
    for path in ("/ui", f"/ui/devices/{device_id}", "/ui/audit", "/ui/signals/new"):
        page = http.get(path).text
        assert "<script>alert" not in page, path
        assert "<b>bold" not in page, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in page, path


def test_form_errors_come_back_in_the_form(http: httpx.Client) -> None:
    sign_up(http)
    register(http, "Taken")
    taken = post_form(http, "/ui/devices/new", "/ui/devices", device_name="  TAKEN ")
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("text/html")
    assert "An active device already has this name" in taken.text
    assert 'value="  TAKEN "' in taken.text

    invalid = post_form(http, "/ui/devices/new", "/ui/devices", device_name="tab\there")
    assert invalid.status_code == 422
    assert "Name: device_name must not contain the character U+0009" in invalid.text

    with httpx.Client(base_url=str(http.base_url)) as no_devices:
        sign_up(no_devices)
        page = no_devices.get("/ui/signals/new")
        assert "There is no active device to send a signal to." in page.text

    bad_signal = post_form(
        http, "/ui/signals/new", "/ui/signals", instrument="EUR USD", side="buy", volume="0"
    )
    assert bad_signal.status_code == 422
    assert "Instrument:" in bad_signal.text
    assert "Volume:" in bad_signal.text


def test_unknown_and_foreign_devices_are_html_404s(http: httpx.Client) -> None:
    sign_up(http)
    other = httpx.Client(base_url=str(http.base_url))
    sign_up(other)
    foreign_id, _ = register(other, "Not yours")
    for path in (
        f"/ui/devices/{foreign_id}",
        f"/ui/devices/{foreign_id}/revoke",
        "/ui/devices/01234567-89ab-7def-8123-456789abcdef",
        "/ui/devices/not-a-uuid",
    ):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
    revoke = post_form(http, "/ui", f"/ui/devices/{foreign_id}/revoke", reason="mine now")
    assert revoke.status_code == 404
    assert revoke.headers["content-type"].startswith("text/html")
    assert device_names_listed(other) == ["Not yours"]
    other.close()


def test_refused_forms_leave_a_usable_transaction_on_postgresql(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """On PostgreSQL a failed INSERT aborts the whole transaction: the dashboard's savepoints
    must let the form come back with its message, and leave nothing behind."""
    base = require_service(POSTGRES_URL, "PostgreSQL", "EAGATE_TEST_POSTGRES_URL")
    url = create_postgres_database(base)
    try:
        data_dir = tmp_path_factory.mktemp("dashboard-pg")
        with (
            eagate_serve(data_dir, name="dashboard-pg", EAGATE_DATABASE_URL=url) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            email = sign_up(http)
            first_id, _ = register(http, "First")
            second_id, _ = register(http, "Second")

            taken = post_form(http, "/ui/devices/new", "/ui/devices", device_name="first")
            assert taken.status_code == 409
            renamed = post_form(
                http,
                f"/ui/devices/{second_id}",
                f"/ui/devices/{second_id}/rename",
                device_name="FIRST",
            )
            assert renamed.status_code == 409
            assert "An active device already has this name" in renamed.text
            assert '<h1 class="device-title">Second</h1>' in renamed.text

            with httpx.Client(base_url=server.url) as again:
                form = again.get("/ui/signup")
                duplicate = again.post(
                    "/ui/signup",
                    data={
                        "csrf_token": csrf_token(form.text),
                        "email": email.upper(),
                        "password": PASSWORD,
                        "password_again": PASSWORD,
                    },
                )
                assert duplicate.status_code == 409
                assert "An account with this email already exists" in duplicate.text

            assert device_names_listed(http) == ["First", "Second"]
            revoked = post_form(
                http, f"/ui/devices/{first_id}/revoke", f"/ui/devices/{first_id}/revoke"
            )
            assert revoked.status_code == 303
            register(http, "first")  # the name is free again once its device is revoked
    finally:
        drop_postgres_database(base, url)
