"""`eagate clients create|list|delete`, run as real processes against a migrated SQLite file."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.fixtures.cli import PASSWORD, Cli, describe, new_cli, one_line, wait_for_status
from tests.fixtures.servers import eagate_serve
from tests.fixtures.storage import query, uuid_param


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One migrated database for the module; each test makes its own owners."""
    return new_cli(tmp_path_factory.mktemp("clients-cli"))


def _email() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}@example.com"


def _count(cli: Cli, email: str) -> int:
    return len(query(cli.database_url, "SELECT id FROM clients WHERE email = :e", e=email))


def test_create_takes_the_password_from_the_environment_and_stores_a_hash(cli: Cli) -> None:
    email = _email()
    result = cli.ok(
        "clients", "create", "--email", f"  {email.upper()} ", EAGATE_CLIENT_PASSWORD=PASSWORD
    )
    assert f"created owner {email}" in result.stdout  # normalized as at sign-up
    (row,) = query(
        cli.database_url, "SELECT id, password_hash FROM clients WHERE email = :e", e=email
    )
    assert str(uuid.UUID(row.id)) in result.stdout
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in result.stdout + result.stderr


def test_create_prompts_twice_without_echo_when_no_environment_password(cli: Cli) -> None:
    email = _email()
    result = cli("clients", "create", "--email", email, input=f"{PASSWORD}\n" * 2)
    assert result.returncode == 0, describe(result)
    assert "Password" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert _count(cli, email) == 1


def test_create_with_mismatched_confirmation_creates_nothing(cli: Cli) -> None:
    email = _email()
    result = cli("clients", "create", "--email", email, input=f"{PASSWORD}\nother password\n")
    assert result.returncode == 1, describe(result)
    assert "do not match" in result.stderr
    assert _count(cli, email) == 0


def test_create_has_no_password_option(cli: Cli) -> None:
    result = cli("clients", "create", "--email", _email(), "--password", PASSWORD)
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert "EAGATE_CLIENT_PASSWORD" in one_line(cli.ok("clients", "create", "--help").stdout)


def test_create_refuses_a_short_password_without_echoing_it(cli: Cli) -> None:
    result = cli("clients", "create", "--email", _email(), EAGATE_CLIENT_PASSWORD="tooshort")
    assert result.returncode == 2, describe(result)
    assert "at least 10 characters" in result.stderr
    assert "tooshort" not in result.stdout + result.stderr


def test_create_refuses_an_invalid_email(cli: Cli) -> None:
    result = cli("clients", "create", "--email", "not-an-email", EAGATE_CLIENT_PASSWORD=PASSWORD)
    assert result.returncode == 2, describe(result)
    assert "not a valid email address" in result.stderr


def test_create_refuses_a_taken_email(cli: Cli) -> None:
    email = cli.new_owner()["email"]
    result = cli("clients", "create", "--email", email.upper(), EAGATE_CLIENT_PASSWORD=PASSWORD)
    assert result.returncode == 1, describe(result)
    assert "email_taken" in result.stderr


def test_list_shows_every_owner_with_device_counts(cli: Cli) -> None:
    first = cli.new_owner()
    second = cli.new_owner()
    kept = cli.register(first["email"])
    revoked = cli.register(first["email"])
    cli.ok("devices", "revoke", "--email", first["email"], revoked["id"])

    listed = cli.json("clients", "list")
    mine = [c for c in listed if c["id"] in (first["id"], second["id"])]
    assert [(c["id"], c["email"], c["active_devices"], c["devices"]) for c in mine] == [
        (first["id"], first["email"], 1, 2),  # oldest first
        (second["id"], second["email"], 0, 0),
    ]
    assert len(listed) == len(query(cli.database_url, "SELECT id FROM clients"))
    table = cli.ok("clients", "list").stdout
    assert first["id"] in table
    assert second["id"] in table
    assert second["email"] in table
    assert kept["secret"] not in table


def test_list_of_an_empty_database(tmp_path: Path) -> None:
    empty = new_cli(tmp_path)
    assert empty.json("clients", "list") == []
    assert "0 owner account(s)" in empty.ok("clients", "list").stdout


def test_delete_asks_and_keeps_the_account_unless_confirmed(cli: Cli) -> None:
    owner = cli.new_owner()
    result = cli("clients", "delete", "--email", owner["email"], input="n\n")
    assert result.returncode == 1, describe(result)
    assert "cannot be undone" in result.stderr
    assert _count(cli, owner["email"]) == 1

    result = cli("clients", "delete", "--email", owner["email"], input="y\n")
    assert result.returncode == 0, describe(result)
    assert _count(cli, owner["email"]) == 0


def test_delete_of_an_unknown_email_fails(cli: Cli) -> None:
    result = cli("clients", "delete", "--email", "nobody@example.com", "--yes")
    assert result.returncode == 1
    assert "no account with the email nobody@example.com" in result.stderr


def test_delete_cascades_and_running_servers_stop_accepting_its_devices(
    cli: Cli, tmp_path: Path
) -> None:
    owner = cli.new_owner()
    other = cli.new_owner()
    device = cli.register(owner["email"])
    cli.register(owner["email"])
    others_device = cli.register(other["email"])
    with eagate_serve(tmp_path / "server", **cli.settings, **_db(cli)) as server:
        assert wait_for_status(server.url, device, 200).status_code == 200  # now cached

        result = cli.ok("clients", "delete", "--email", owner["email"], "--yes")
        assert "2 device(s)" in result.stdout

        # The deletion reached the server through the auth-change outbox.
        response = wait_for_status(server.url, device, 401, "invalid_signature")
        assert response.json()["code"] == "invalid_signature", response.text
        assert wait_for_status(server.url, others_device, 200).status_code == 200

    url = cli.database_url
    owner_id = uuid_param(url, owner["id"])
    for table in ("clients", "devices", "audit_events"):
        column = "id" if table == "clients" else "client_id"
        assert query(url, f"SELECT 1 FROM {table} WHERE {column} = :id", id=owner_id) == []
    changed = {row.device_id for row in query(url, "SELECT device_id FROM device_auth_changes")}
    assert uuid_param(url, device["id"]) in changed
    other_id = uuid_param(url, other["id"])
    assert len(query(url, "SELECT id FROM devices WHERE client_id = :id", id=other_id)) == 1


def _db(cli: Cli) -> dict[str, str]:
    return {"EAGATE_DATABASE_URL": cli.database_url, "EAGATE_JWT_SECRET": "j" * 40}


def _sign_in(base_url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": email, "password": password},
        timeout=10,
    )


def test_lock_revokes_every_session_and_refuses_sign_in_until_unlock(
    cli: Cli, tmp_path: Path
) -> None:
    owner = cli.new_owner()
    other = cli.new_owner()
    with eagate_serve(tmp_path / "server", **cli.settings, **_db(cli)) as server:
        tokens = [_sign_in(server.url, owner["email"]).json()["access_token"] for _ in range(2)]
        others_token = _sign_in(server.url, other["email"]).json()["access_token"]

        result = cli.ok("clients", "lock", owner["email"].upper())
        assert "2 session(s) revoked" in result.stdout

        # At once, with no cache to wait for: every owner request checks its session.
        for token in tokens:
            me = httpx.get(
                f"{server.url}/api/v1/clients/me",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert me.status_code == 401, me.text
            assert me.json()["code"] == "not_authenticated"
        refused = _sign_in(server.url, owner["email"])
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "account_locked"
        still = httpx.get(
            f"{server.url}/api/v1/clients/me",
            headers={"Authorization": f"Bearer {others_token}"},
            timeout=10,
        )
        assert still.status_code == 200  # nobody else is touched

        cli.ok("clients", "unlock", owner["email"])
        assert _sign_in(server.url, owner["email"]).status_code == 200
    actions = [
        row.action
        for row in query(
            cli.database_url,
            "SELECT action FROM audit_events WHERE client_id = :id ORDER BY id",
            id=uuid_param(cli.database_url, owner["id"]),
        )
    ]
    assert actions.count("owner.signed_in") == 3
    assert "owner.locked" in actions
    assert "owner.unlocked" in actions


def test_reset_lockout_lets_a_throttled_email_sign_in_again(cli: Cli, tmp_path: Path) -> None:
    owner = cli.new_owner()
    settings = {**cli.settings, **_db(cli), "EAGATE_SIGN_IN_FAILURES_PER_EMAIL": "2"}
    with eagate_serve(tmp_path / "server", **settings) as server:
        wrong = [_sign_in(server.url, owner["email"], "wrong password").status_code for _ in "abc"]
        assert wrong == [401, 401, 429]
        assert _sign_in(server.url, owner["email"]).status_code == 429

        result = cli.ok("clients", "reset-lockout", owner["email"])
        assert owner["email"] in result.stdout

        assert _sign_in(server.url, owner["email"]).status_code == 200


@pytest.mark.parametrize("command", ["lock", "unlock", "reset-lockout"])
def test_lock_commands_refuse_an_unknown_email(cli: Cli, command: str) -> None:
    result = cli("clients", command, "nobody@example.com")
    assert result.returncode == 1, describe(result)
    assert "no account with the email nobody@example.com" in result.stderr
