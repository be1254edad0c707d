"""`eagate signals send` against a real server, run as the owner would run it."""

from __future__ import annotations

import asyncio
import json
import signal as signals_module
import sys
import time
import uuid
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from eagate.cli.main import app
from eagate.client import DeviceClient
from tests.fixtures.devices import register_device
from tests.fixtures.owners import PASSWORD, Owner, new_owner
from tests.fixtures.processes import Completed, client_environment, eagate
from tests.fixtures.servers import ServerProcess

pytestmark = pytest.mark.slow


async def send(server: ServerProcess, *args: str, env: dict[str, str] | None = None) -> Completed:
    return await eagate("signals", "send", "--url", server.url, *args, env=env)


def as_owner(owner: Owner, password: str = PASSWORD) -> tuple[list[str], dict[str, str]]:
    return ["--email", owner.email], {"EAGATE_OWNER_PASSWORD": password}


def table_row(output: str, device_id: str) -> list[str]:
    """The cells of the table row naming `device_id` (columns split on Rich's `│`)."""
    [line] = [line for line in output.splitlines() if device_id in line]
    return [cell.strip() for cell in line.split("│")]


async def test_wrong_password_exits_1_with_the_servers_answer(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
    args, env = as_owner(owner, password="not the password")
    result = await send(server, *args, "--side", "buy", "--volume", "0.1", env=env)
    assert result.returncode == 1
    assert "401 invalid_credentials: Wrong email or password" in result.stderr
    assert result.stdout == ""
    assert "not the password" not in result.stderr


async def test_password_is_asked_for_when_not_in_the_environment(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        await register_device(http, owner, "Prompted EA")
    # In this process, so that the prompt reads the runner's input (a subprocess's getpass
    # would look for a terminal first).
    result = CliRunner().invoke(
        app,
        ["signals", "send", "--url", server.url, "--email", owner.email,
         "--side", "buy", "--volume", "0.5", "--sl", "1.0712"],
        input=PASSWORD + "\n",
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Password for {owner.email}" in result.stderr
    assert PASSWORD not in result.output
    assert ": BUY market EURUSD 0.5 sl 1.0712, expires " in result.stdout
    assert "Prompted EA" in result.stdout
    assert "pending" in result.stdout


async def test_invalid_token_exits_1(server: ServerProcess) -> None:
    result = await send(
        server, "--side", "buy", "--volume", "0.1", env={"EAGATE_TOKEN": "not-a-token"}
    )
    assert result.returncode == 1
    assert "401 not_authenticated" in result.stderr
    assert "not-a-token" not in result.stderr


async def test_token_from_the_environment_is_enough(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        device = await register_device(http, owner)
    result = await send(
        server, "--side", "buy", "--volume", "0.1", "--json", env={"EAGATE_TOKEN": owner.token}
    )
    assert result.returncode == 0, result.stderr
    signal = json.loads(result.stdout)
    assert [d["device_id"] for d in signal["deliveries"]] == [device["id"]]


async def test_unknown_and_foreign_devices_are_both_device_not_found(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        mine = await register_device(http, owner)
        foreign = await register_device(http, await new_owner(http))
    args, env = as_owner(owner)
    outputs = []
    for missing in (str(uuid.uuid4()), foreign["id"]):
        result = await send(
            server, *args, "--side", "buy", "--volume", "0.1",
            "--device-id", mine["id"], "--device-id", missing, env=env,
        )  # fmt: skip
        assert result.returncode == 1
        assert result.stdout == ""
        assert f"error: 404 device_not_found: no such device: {missing}" in result.stderr
        outputs.append(result.stderr.replace(missing, "<id>"))
    assert outputs[0] == outputs[1]  # another owner's device is indistinguishable


async def test_revoked_device_and_invalid_fields_exit_1(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        device = await register_device(http, owner)
        await http.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
    args, env = as_owner(owner)
    revoked = await send(
        server, *args, "--side", "buy", "--volume", "1", "--device-id", device["id"], env=env
    )
    assert revoked.returncode == 1
    assert f"409 device_revoked: device {device['id']} is revoked" in revoked.stderr

    invalid = await send(
        server, *args, "--side", "buy", "--volume", "1001", "--comment", "one\ttwo", env=env
    )
    assert invalid.returncode == 1
    assert "422 validation_error: body.volume: " in invalid.stderr
    # Every field error, one per line.
    assert "  body.volume: Input should be less than or equal to 1000\n" in invalid.stderr
    assert "  body.comment: must not contain the character U+0009\n" in invalid.stderr

    no_price = await send(
        server, *args, "--side", "buy", "--volume", "1", "--order-type", "limit", env=env
    )
    assert no_price.returncode == 1
    assert "422 validation_error: body: price is required for a limit order" in no_price.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--side", "buy", "--volume", "0.1"], "sign in with --email"),
        (["--side", "hold", "--volume", "0.1", "--token", "t"], "--side"),
        (["--side", "buy", "--volume", "lots", "--token", "t"], "'lots' is not a number"),
        (["--side", "buy", "--volume", "NaN", "--token", "t"], "not a finite number"),
        (["--side", "buy", "--volume", "1", "--device-id", "EA-1", "--token", "t"], "UUID"),
        (["--side", "buy", "--volume", "1", "--password", "x", "--token", "t"], "--password"),
        (["--side", "buy", "--volume", "1", "--email", "a@example.com", "--token", "t"], "both"),
    ],
)
async def test_bad_usage_exits_2_before_any_request(args: list[str], message: str) -> None:
    # Port 9 (discard): nothing answers there, and a request would exit 1, not 2.
    result = await eagate("signals", "send", "--url", "http://127.0.0.1:9", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


async def test_idempotency_key_replays_the_first_answer(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        await register_device(http, owner)
    args, env = as_owner(owner)
    key = ["--idempotency-key", f"e2e-{uuid.uuid4()}"]
    fields = ["--side", "buy", "--volume", "0.1", "--sl", "1.0712"]
    first = await send(server, *args, *fields, *key, "--json", env=env)
    again = await send(server, *args, *reversed_pairs(fields), *key, "--json", env=env)
    other = await send(server, *args, "--side", "buy", "--volume", "0.2", *key, env=env)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert again.stdout == first.stdout  # the original body, verbatim
    assert other.returncode == 1
    assert "409 idempotency_key_reused" in other.stderr


def reversed_pairs(args: list[str]) -> list[str]:
    """The same options in the opposite order (a body with its keys in another order)."""
    pairs = [args[i : i + 2] for i in range(0, len(args), 2)]
    return [item for pair in reversed(pairs) for item in pair]


async def test_wait_follows_the_deliveries_to_their_end(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        placing = await register_device(http, owner, "Placing EA")
        failing = await register_device(http, owner, "Failing EA")
        args, env = as_owner(owner)

        async def terminal(device: dict[str, Any], **ack: Any) -> None:
            async with DeviceClient(server.url, device["id"], device["secret"]) as client:
                while not (result := await client.poll(wait=20)).signals:
                    pass
                await client.ack(result.signals[0].signal_id, **ack)

        started = time.monotonic()
        result, _, _ = await asyncio.gather(
            send(server, *args, "--side", "buy", "--volume", "0.1", "--wait", "30", env=env),
            terminal(placing, status="placed", broker_ticket="T-777"),
            terminal(failing, status="failed", error="10019: not enough money"),
        )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # it stopped once both were final
    assert result.stdout.count(placing["id"]) == 1  # the final table, printed once
    assert table_row(result.stdout, placing["id"])[1:] == ["placed", "1", "T-777", ""]
    assert table_row(result.stdout, failing["id"])[1:] == [
        "failed",
        "1",
        "",
        "10019: not enough money",
    ]
    assert table_row(result.stdout, placing["id"])[0] == f"Placing EA {placing['id']}"
    assert "still open" not in result.stderr


async def test_wait_that_runs_out_shows_what_is_still_open(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        device = await register_device(http, owner)
    args, env = as_owner(owner)
    result = await send(server, *args, "--side", "sell", "--volume", "2", "--wait", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert table_row(result.stdout, device["id"])[1:] == ["pending", "0", "", ""]
    assert "1 of 1 deliveries still open after 1 s" in result.stderr


async def test_ctrl_c_while_waiting_stops_following_and_keeps_the_signal(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await new_owner(http)
        await register_device(http, owner)
        args, env = as_owner(owner)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eagate", "signals", "send", "--url", server.url, *args,
            "--side", "buy", "--volume", "0.1", "--wait", "60",
            env=client_environment(**env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            first_line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert first_line.startswith(b"following 1 deliveries for up to 60 s"), first_line
            process.send_signal(signals_module.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        [signal] = (await http.get("/api/v1/signals", headers=owner.headers)).json()
    assert process.returncode == 130, stderr.decode()
    assert f"stopped following signal {signal['id']}" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "pending" in stdout.decode()  # the table as it last was
