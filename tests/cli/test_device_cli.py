"""`eagate device run`: the simulated EA, against the real app and as a real process."""

from __future__ import annotations

import io
import os
import signal as signals
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from eagate.cli.device import app, run_device
from tests.fixtures.api import API
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.sdk import Sleeps, require_device_api, sdk
from tests.fixtures.signals import create_signal

SECRET = "ab" * 32
DEVICE = "0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d40"


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def test_help_warns_that_a_command_line_secret_is_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EAGATE_DEVICE_SECRET", SECRET)
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "EAGATE_DEVICE_SECRET" in text
    assert "`ps`" in text
    assert SECRET not in result.output  # the environment's value is never shown


def test_malformed_secret_is_refused_without_echoing_it() -> None:
    bad = "cd" * 31 + "ZZ"
    result = CliRunner().invoke(
        app, ["run", "--url", "http://127.0.0.1:9", "--device-id", DEVICE, "--secret", bad]
    )
    assert result.exit_code == 2
    assert "64 lowercase hex" in result.output
    assert bad not in result.output
    assert "Traceback" not in result.output


async def test_once_prints_and_acks_each_signal(client: httpx.AsyncClient) -> None:
    await require_device_api(client)
    owner = await new_owner(client)
    device_row = await register_device(client, owner)
    signal = await create_signal(client, owner, device_row["id"], instrument="XAUUSD")
    console, out = _console()

    code = await run_device(sdk(client, device_row), wait=0, once=True, console=console)

    assert code == 0, out.getvalue()
    assert "XAUUSD" in out.getvalue()
    assert f"acked {signal['id']}: placed" in out.getvalue()
    view = await client.get(f"{API}/signals/{signal['id']}", headers=owner.headers)
    (delivery,) = view.json()["deliveries"]
    assert delivery["status"] == "placed"
    assert delivery["broker_ticket"].isdigit()


async def test_revoked_device_stops(client: httpx.AsyncClient) -> None:
    await require_device_api(client)
    owner = await new_owner(client)
    device_row = await register_device(client, owner)
    await client.post(f"{API}/devices/{device_row['id']}/revoke", headers=owner.headers)
    console, out = _console()
    code = await run_device(sdk(client, device_row), wait=0, once=False, console=console)
    assert code == 3
    assert "revoked" in out.getvalue()


async def test_wrong_secret_stops(client: httpx.AsyncClient) -> None:
    await require_device_api(client)
    owner = await new_owner(client)
    device_row: dict[str, Any] = {**(await register_device(client, owner)), "secret": SECRET}
    console, out = _console()
    code = await run_device(sdk(client, device_row), wait=0, once=False, console=console)
    assert code == 2
    assert "invalid_signature" in out.getvalue()
    assert SECRET not in out.getvalue()


async def test_unreachable_server_with_once_exits_1() -> None:
    from eagate.client import DeviceClient

    console, out = _console()
    device = DeviceClient("http://127.0.0.1:9", DEVICE, SECRET, max_retries=0, sleep=Sleeps())
    code = await run_device(device, wait=0, once=True, console=console)
    assert code == 1
    assert "server unavailable" in out.getvalue()


def test_ctrl_c_exits_cleanly() -> None:
    # A real process and a real SIGINT, while it waits for a server that is not there.
    env = {**os.environ, "EAGATE_DEVICE_SECRET": SECRET, "EAGATE_DEVICE_ID": DEVICE}
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-c",
            "from eagate.cli.device import app; app()",
            "run",
            "--url",
            "http://127.0.0.1:9",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        first_line = ""
        while time.monotonic() < deadline and "server unavailable" not in first_line:
            first_line = process.stdout.readline()
        assert "server unavailable" in first_line
        process.send_signal(signals.SIGINT)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert "stopped" in rest
    assert "Traceback" not in rest
