"""Helpers for the dashboard tests: form posts over plain HTTP, and a device's side of things."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from eagate.client import DeviceClient
from tests.helpers import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def new_email() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}@example.com"


def sign_up(http: httpx.Client, email: str | None = None) -> str:
    """Create an account through the sign-up form; the client keeps the session cookie."""
    email = email or new_email()
    form = http.get("/ui/signup")
    assert form.status_code == 200, form.text
    response = http.post(
        "/ui/signup",
        data={
            "csrf_token": csrf_token(form.text),
            "email": email,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui"
    return email


def post_form(http: httpx.Client, form_page: str, action: str, **fields: str) -> httpx.Response:
    """Fetch the page holding a form, then post the form with its CSRF token."""
    page = http.get(form_page)
    assert page.status_code == 200, page.text
    return http.post(action, data={"csrf_token": csrf_token(page.text), **fields})


def register(http: httpx.Client, name: str) -> tuple[str, str]:
    """Register a device through the form; its id and one-time secret."""
    response = post_form(http, "/ui/devices/new", "/ui/devices", device_name=name)
    assert response.status_code == 201, response.text
    device_id = re.search(r'id="device-id" class="copy-value">([0-9a-f-]{36})<', response.text)
    secret = re.search(r'id="device-secret" class="copy-value">([0-9a-f]{64})<', response.text)
    assert device_id
    assert secret
    return device_id.group(1), secret.group(1)


async def _poll_and_ack(base_url: str, device_id: str, secret: str, ticket: str | None) -> int:
    async with DeviceClient(base_url, device_id, secret) as device:
        await device.me()
        result = await device.poll(wait=0)
        if ticket is not None:
            for signal in result.signals:
                await device.ack(signal.signal_id, "placed", broker_ticket=ticket)
        return len(result.signals)


def device_checks_in(
    base_url: str, device_id: str, secret: str, *, ack_ticket: str | None = None
) -> int:
    """The EA's side: a signed request and a poll, acking what came as placed when asked;
    how many signals came."""
    # In a thread of its own: the test's thread keeps the event loop pytest-asyncio set up.
    with ThreadPoolExecutor(max_workers=1) as thread:
        work = thread.submit(asyncio.run, _poll_and_ack(base_url, device_id, secret, ack_ticket))
        return work.result(timeout=30)
