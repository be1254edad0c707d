"""The owner's whole journey through the dashboard, in a real browser against a real server."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.owners import PASSWORD, new_email
from tests.fixtures.servers import ServerProcess
from tests.fixtures.web import DESKTOP, PHONE, device_checks_in

pytestmark = pytest.mark.slow

# The README's picture of the devices page; refreshed on request only, so that running the
# tests leaves the working tree as it was.
DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "dashboard.png"
UPDATE_DOCS_SCREENSHOT = os.environ.get("EAGATE_TEST_UPDATE_DOCS_SCREENSHOT") == "1"
SECRET = re.compile(r"^[0-9a-f]{64}$")


def sign_up_in_browser(page: Any, email: str) -> None:
    page.goto("/ui")
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/ui")


def register_in_browser(page: Any, name: str) -> tuple[str, str]:
    """Register through the form; the device id and the secret shown once."""
    page.goto("/ui/devices/new")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Register").click()
    page.wait_for_selector("#device-secret")
    return page.locator("#device-id").inner_text(), page.locator("#device-secret").inner_text()


def reload_until_text(page: Any, locator: Any, text: str, timeout: float = 10) -> None:
    """Reload until the locator shows the text (device activity is written within seconds)."""
    deadline = time.monotonic() + timeout
    while locator.inner_text().strip() != text:
        assert time.monotonic() < deadline, f"still {locator.inner_text()!r}, not {text!r}"
        page.wait_for_timeout(300)
        page.reload()


def test_owner_journey(browser: Any, server: ServerProcess, screenshots: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.url, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    # Script errors and CSP violations; not the "failed to load" note Chromium logs for every
    # 4xx page (a refused form answers 409 or 422 on purpose).
    browser_errors: list[str] = []
    page.on("pageerror", lambda error: browser_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            browser_errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )

    def shot(name: str) -> None:
        page.screenshot(path=str(screenshots / f"journey-{name}.png"), full_page=True)

    try:
        # Signed out, every page leads to the sign-in form.
        page.goto("/ui")
        expect(page).to_have_url(re.compile(r"/ui/signin\?next=%2Fui$"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shot("01-sign-in")

        email = "trader@example.com"  # a fresh server per module: no other account has it
        sign_up_in_browser(page, email)
        expect(page.get_by_role("heading", name="No devices active yet")).to_be_visible()
        expect(page.locator(".account-email")).to_have_text(email)
        shot("02-devices-empty")

        # Register: the secret is shown once, with what MT5 needs.
        page.goto("/ui/devices/new")
        page.get_by_label("Name").fill("London VPS · EURUSD scalper")
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/ui/devices")
        ) as registration:
            page.get_by_role("button", name="Register").click()
        assert registration.value.status == 201
        assert registration.value.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in registration.value.headers["content-security-policy"]
        london_id = page.locator("#device-id").inner_text()
        london_secret = page.locator("#device-secret").inner_text()
        assert SECRET.match(london_secret)
        expect(page.locator("#allowed-url")).to_have_text(server.url)
        expect(page.locator("#base-url")).to_have_text(server.url)
        expect(page.get_by_text("Allow WebRequest for listed URL")).to_be_visible()
        page.get_by_role("button", name="Copy secret").click()
        expect(page.get_by_role("button", name="Copy secret")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == london_secret
        shot("03-registered-secret")

        # The address is now the device's page: a reload never shows the secret again.
        expect(page).to_have_url(f"{server.url}/ui/devices/{london_id}")
        page.reload()
        expect(page.get_by_role("heading", name="London VPS · EURUSD scalper")).to_be_visible()
        assert london_secret not in page.content()
        page.go_back()
        assert london_secret not in page.content()

        home_id, _home_secret = register_in_browser(page, "Home PC")

        # Rename: a name another active device has (in any case) is refused, in the form.
        page.goto(f"/ui/devices/{home_id}")
        page.get_by_label("New name").fill("LONDON VPS · eurusd SCALPER")
        with page.expect_response(lambda r: r.url.endswith("/rename")) as refused:
            page.get_by_role("button", name="Rename").click()
        assert refused.value.status == 409
        expect(page.get_by_role("alert")).to_have_text("An active device already has this name")
        expect(page.get_by_label("New name")).to_have_value("LONDON VPS · eurusd SCALPER")
        shot("04-rename-duplicate")
        page.get_by_label("New name").fill("Home PC · XAUUSD swing")
        page.get_by_role("button", name="Rename").click()
        expect(page.get_by_role("status")).to_have_text("Device renamed.")
        expect(page.get_by_role("heading", name="Home PC · XAUUSD swing")).to_be_visible()

        # An EA checks in: its device shows online.
        device_checks_in(server.url, london_id, london_secret)
        page.goto("/ui")
        london_row = page.get_by_role("row").filter(has_text="London VPS")
        reload_until_text(page, london_row.locator(".badge"), "Online")
        expect(page.get_by_role("row").filter(has_text="Home PC").locator(".badge")).to_have_text(
            "Offline"
        )
        assert london_row.locator("time").first.get_attribute("title").endswith("Z")

        # Rotate, after a confirmation step: a new secret, shown once.
        page.goto(f"/ui/devices/{london_id}")
        old_fingerprint = page.locator(".fingerprint").first.inner_text()
        page.get_by_role("link", name="Rotate secret…").click()
        expect(page.get_by_role("heading", name=re.compile("Rotate the secret"))).to_be_visible()
        shot("05-rotate-confirm")
        page.get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_role("heading", name=re.compile("New secret for"))).to_be_visible()
        rotated_secret = page.locator("#device-secret").inner_text()
        assert SECRET.match(rotated_secret)
        assert rotated_secret != london_secret
        shot("06-rotated-secret")
        page.get_by_role("link", name="I have saved the secret").click()
        assert page.locator(".fingerprint").first.inner_text() != old_fingerprint
        assert rotated_secret not in page.content()

        # A test signal to every device; the London EA receives and acknowledges it.
        page.goto("/ui/signals")
        page.get_by_role("link", name="Send a test signal").first.click()
        page.get_by_label("Instrument").fill("EURUSD")
        page.get_by_label("Sell").check()
        page.get_by_label("Volume").fill("0.01")
        page.get_by_role("button", name="Send signal").click()
        expect(page.get_by_role("status")).to_contain_text("Test signal sent")
        signal_row = page.locator("tbody tr").first
        expect(signal_row).to_contain_text("SELL")
        expect(signal_row).to_contain_text("EURUSD")
        expect(signal_row.locator("li")).to_have_count(2)
        assert device_checks_in(server.url, london_id, rotated_secret, ack_ticket="501234567") == 1
        page.reload()
        london_delivery = signal_row.locator("li").filter(has_text="London VPS")
        expect(london_delivery.locator(".badge")).to_have_text("Placed")
        expect(london_delivery).to_contain_text("acked in")
        expect(london_delivery).to_contain_text("501234567")
        expect(signal_row.locator("li").filter(has_text="Home PC").locator(".badge")).to_have_text(
            "Pending"
        )
        shot("07-signals")

        page.goto(f"/ui/devices/{london_id}")
        expect(page.get_by_role("row").filter(has_text="Sent → acknowledged")).to_contain_text("1")
        shot("08-device")

        # Invalid test signal input comes back to the form, with the reason.
        page.goto("/ui/signals/new")
        page.get_by_label("Volume").fill("5000")
        page.get_by_role("button", name="Send signal").click()
        expect(page.get_by_role("alert")).to_contain_text("Volume")

        # Revoke, after a confirmation step with a reason.
        page.goto(f"/ui/devices/{home_id}")
        page.get_by_role("link", name="Revoke…").click()
        expect(page.get_by_role("heading", name=re.compile("Revoke"))).to_be_visible()
        page.get_by_label("Reason").fill("Terminal retired")
        shot("09-revoke-confirm")
        page.get_by_role("button", name="Revoke device").click()
        expect(page.get_by_role("status")).to_contain_text("Device revoked")
        expect(page.locator("#device-activity .badge")).to_have_text("Revoked")
        expect(page.get_by_text("Terminal retired")).to_be_visible()
        expect(page.get_by_role("link", name="Revoke…")).to_have_count(0)

        register_in_browser(page, "Demo account · GBPUSD")
        page.goto("/ui")
        expect(page.get_by_role("row").filter(has_text="Home PC")).to_have_count(0)
        page.get_by_role("link", name="All, with revoked").click()
        expect(page.get_by_role("row").filter(has_text="Home PC").locator(".badge")).to_have_text(
            "Revoked"
        )
        expect(london_row.locator(".badge")).to_have_text("Online")
        shot("10-devices")
        page.set_viewport_size({"width": DESKTOP["width"], "height": 560})
        page.screenshot(path=str(screenshots / "dashboard.png"))
        page.set_viewport_size(DESKTOP)
        if UPDATE_DOCS_SCREENSHOT:
            shutil.copyfile(screenshots / "dashboard.png", DOCS_SCREENSHOT)

        # The audit log tells the whole story.
        page.get_by_role("link", name="Audit log").click()
        for action in (
            "device.registered",
            "device.renamed",
            "device.secret_rotated",
            "signal.created",
            "device.revoked",
        ):
            expect(page.locator("code", has_text=action).first).to_be_visible()
        expect(page.get_by_role("row").filter(has_text="device.revoked")).to_contain_text(
            "Terminal retired"
        )
        shot("11-audit")

        # Sign out: the session is gone.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        page.goto("/ui/signals")
        expect(page).to_have_url(re.compile(r"/ui/signin"))

        # Signing in again comes back to the page asked for.
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{server.url}/ui/signals")

        assert browser_errors == []
    finally:
        context.close()

    log = server.log()
    for secret in (london_secret, rotated_secret):
        assert secret not in log


def test_devices_page_on_a_phone(browser: Any, server: ServerProcess, screenshots: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=server.url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_up_in_browser(page, new_email())
        first_id, first_secret = register_in_browser(page, "Phone test · EURUSD")
        page.screenshot(path=str(screenshots / "phone-secret.png"), full_page=True)
        register_in_browser(page, "Second terminal with a rather long name, for wrapping")
        device_checks_in(server.url, first_id, first_secret)
        page.goto("/ui")
        reload_until_text(
            page, page.get_by_role("row").filter(has_text="Phone test").locator(".badge"), "Online"
        )
        # The table has become cards: every cell is labelled, nothing scrolls sideways.
        expect(page.locator("thead")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        expect(page.get_by_role("link", name="Register a device")).to_be_visible()
        page.screenshot(path=str(screenshots / "phone-devices.png"), full_page=True)

        page.goto(f"/ui/devices/{first_id}")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(screenshots / "phone-device.png"), full_page=True)
    finally:
        context.close()
