"""`eagate devices list|register|revoke|rotate`, run as real processes."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from eagate.devices.secrets import fingerprint_of
from tests.fixtures.cli import Cli, describe, new_cli, one_line, wait_for_status
from tests.fixtures.servers import eagate_serve
from tests.fixtures.storage import query, uuid_param

SECRET_LINE = re.compile(r"^[0-9a-f]{64}$", re.MULTILINE)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One migrated database for the module; each test makes its own owners."""
    return new_cli(tmp_path_factory.mktemp("devices-cli"))


@pytest.fixture
def owner(cli: Cli) -> dict[str, Any]:
    return cli.new_owner()


def _audit(cli: Cli, device_id: str) -> list[tuple[str, str]]:
    rows = query(
        cli.database_url,
        "SELECT action, actor FROM audit_events WHERE device_id = :id ORDER BY id",
        id=uuid_param(cli.database_url, device_id),
    )
    return [(row.action, row.actor) for row in rows]


def _device_row(cli: Cli, device_id: str) -> Any:
    (row,) = query(
        cli.database_url,
        "SELECT * FROM devices WHERE id = :id",
        id=uuid_param(cli.database_url, device_id),
    )
    return row


def test_register_prints_the_secret_once_with_a_warning(cli: Cli, owner: dict[str, Any]) -> None:
    result = cli.ok("devices", "register", "--email", owner["email"], "--name", " EURUSD [bold]#1 ")
    (secret,) = SECRET_LINE.findall(result.stdout)
    assert result.stdout.count(secret) == 1
    assert "will not be shown again" in one_line(result.stdout)
    assert "EURUSD [bold]#1" in result.stdout  # trimmed, and shown as given (no markup)
    assert fingerprint_of(secret) in result.stdout

    (listed,) = cli.json("devices", "list", "--email", owner["email"])
    assert listed["device_name"] == "EURUSD [bold]#1"
    assert listed["client_id"] == owner["id"]
    assert listed["secret_fingerprint"] == fingerprint_of(secret)
    assert "secret" not in listed
    row = _device_row(cli, listed["id"])
    assert secret.encode() not in row.secret_ciphertext
    assert _audit(cli, listed["id"]) == [("device.registered", "operator:cli")]


def test_register_json_carries_the_secret_and_the_warning_goes_to_stderr(
    cli: Cli, owner: dict[str, Any]
) -> None:
    result = cli.ok("devices", "register", "--email", owner["email"], "--name", "EA", "--json")
    assert "will not be shown again" in one_line(result.stderr)
    device = cli.register(owner["email"])  # parses stdout as JSON
    assert re.fullmatch(r"[0-9a-f]{64}", device["secret"])
    assert device["is_active"] is True
    assert device["created_at"].endswith("Z")


def test_register_refuses_a_taken_name_and_a_bad_one(cli: Cli, owner: dict[str, Any]) -> None:
    cli.register(owner["email"], "Gold EA")
    taken = cli("devices", "register", "--email", owner["email"], "--name", "GOLD ea")
    assert taken.returncode == 1, describe(taken)
    assert "device_name_taken" in taken.stderr

    bad = cli("devices", "register", "--email", owner["email"], "--name", "tab\there")
    assert bad.returncode == 2, describe(bad)
    assert "U+0009" in bad.stderr
    assert len(cli.json("devices", "list", "--email", owner["email"])) == 1


def test_unknown_email_fails_for_every_device_command(cli: Cli) -> None:
    email = "nobody-" + uuid.uuid4().hex[:8] + "@example.com"
    device_id = str(uuid.uuid4())
    for args in (
        ("list",),
        ("register", "--name", "EA"),
        ("revoke", device_id),
        ("rotate", device_id),
    ):
        result = cli("devices", *args, "--email", email)
        assert result.returncode == 1, describe(result)
        assert f"no account with the email {email}" in result.stderr


def test_list_hides_revoked_devices_unless_asked(cli: Cli, owner: dict[str, Any]) -> None:
    kept = cli.register(owner["email"], "kept")
    gone = cli.register(owner["email"], "gone")
    cli.ok("devices", "revoke", "--email", owner["email"], gone["id"], "--reason", "sold")

    active = cli.json("devices", "list", "--email", owner["email"])
    assert [d["id"] for d in active] == [kept["id"]]
    everything = cli.json("devices", "list", "--email", owner["email"], "--include-revoked")
    assert [(d["id"], d["is_active"], d["revoke_reason"]) for d in everything] == [
        (kept["id"], True, None),
        (gone["id"], False, "sold"),
    ]
    table = cli.ok("devices", "list", "--email", owner["email"], "--include-revoked").stdout
    assert kept["id"] in table
    assert gone["id"] in table
    assert "revoked: sold" in table


def test_another_owners_device_is_not_found(cli: Cli, owner: dict[str, Any]) -> None:
    stranger = cli.new_owner()
    theirs = cli.register(stranger["email"])
    for command in ("revoke", "rotate"):
        result = cli("devices", command, "--email", owner["email"], theirs["id"])
        assert result.returncode == 1, describe(result)
        assert "device_not_found" in result.stderr
    assert _device_row(cli, theirs["id"]).is_active
    missing = cli("devices", "revoke", "--email", owner["email"], str(uuid.uuid4()))
    assert missing.returncode == 1
    assert "device_not_found" in missing.stderr
    malformed = cli("devices", "revoke", "--email", owner["email"], "not-a-uuid")
    assert malformed.returncode == 2


def test_revoke_takes_effect_on_a_running_server(
    cli: Cli, owner: dict[str, Any], tmp_path: Path
) -> None:
    device = cli.register(owner["email"])
    bystander = cli.register(owner["email"])
    settings = {**cli.settings, "EAGATE_DATABASE_URL": cli.database_url}
    with eagate_serve(tmp_path / "server", **settings) as server:
        assert wait_for_status(server.url, device, 200).status_code == 200  # cached now

        result = cli.ok(
            "devices", "revoke", "--email", owner["email"], device["id"], "--reason", "stolen"
        )
        assert "revoked: stolen" in result.stdout

        response = wait_for_status(server.url, device, 401, "device_revoked")
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "device_revoked"
        assert wait_for_status(server.url, bystander, 200).status_code == 200

    again = cli.json("devices", "revoke", "--email", owner["email"], device["id"])
    assert again["is_active"] is False
    assert again["revoke_reason"] == "stolen"  # revoking again changes nothing
    # (The refused requests add device.auth_failed events, by the device.)
    assert [a for a in _audit(cli, device["id"]) if a[1] == "operator:cli"] == [
        ("device.registered", "operator:cli"),
        ("device.revoked", "operator:cli"),
    ]


def test_rotate_prints_a_new_secret_and_keeps_the_old_one_for_the_grace_period(
    cli: Cli, owner: dict[str, Any], tmp_path: Path
) -> None:
    device = cli.register(owner["email"])
    table_output = cli.ok("devices", "rotate", "--email", owner["email"], device["id"])
    (new_secret,) = SECRET_LINE.findall(table_output.stdout)
    assert new_secret != device["secret"]
    assert "will not be shown again" in one_line(table_output.stdout)
    assert "keeps working" in one_line(table_output.stderr)

    rotated = cli.json("devices", "rotate", "--email", owner["email"], device["id"])
    assert rotated["id"] == device["id"]
    assert rotated["secret"] not in (device["secret"], new_secret)
    assert rotated["secret_fingerprint"] == fingerprint_of(rotated["secret"])
    assert [a for a in _audit(cli, device["id"]) if a[0] == "device.secret_rotated"] == [
        ("device.secret_rotated", "operator:cli")
    ] * 2

    settings = {**cli.settings, "EAGATE_DATABASE_URL": cli.database_url}
    with eagate_serve(tmp_path / "server", **settings) as server:
        # The secret just before the latest rotation still works, the first one no longer.
        assert wait_for_status(server.url, device, 200, secret=new_secret).status_code == 200
        stale = wait_for_status(server.url, device, 401, secret=device["secret"])
        assert stale.json()["code"] == "invalid_signature"
        assert wait_for_status(server.url, rotated, 200).status_code == 200
        # Once the device used the new secret, the previous one stops working.
        retired = wait_for_status(server.url, device, 401, secret=new_secret)
        assert retired.json()["code"] == "invalid_signature"


def test_rotate_of_a_revoked_device_is_refused(cli: Cli, owner: dict[str, Any]) -> None:
    device = cli.register(owner["email"])
    cli.ok("devices", "revoke", "--email", owner["email"], device["id"])
    result = cli("devices", "rotate", "--email", owner["email"], device["id"])
    assert result.returncode == 1, describe(result)
    assert "device_revoked" in result.stderr
    assert not SECRET_LINE.search(result.stdout)


def test_revoke_reason_is_validated(cli: Cli, owner: dict[str, Any]) -> None:
    device = cli.register(owner["email"])
    result = cli(
        "devices", "revoke", "--email", owner["email"], device["id"], "--reason", "x" * 129
    )
    assert result.returncode == 2, describe(result)
    assert "128" in result.stderr
    assert _device_row(cli, device["id"]).is_active
