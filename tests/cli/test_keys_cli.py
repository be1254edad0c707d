"""`eagate keys generate` and `eagate keys rotate-master` (with the re-encryption behind it,
devices/rekey.py), as real processes against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eagate.devices.rekey import RekeyReport, rekey_device_secrets
from eagate.devices.secrets import SecretBox
from eagate.kit.db import Database
from eagate.kit.keys import decode_master_key, new_master_key_text
from tests.fixtures.cli import Cli, describe, key_id, new_cli, one_line, wait_for_status
from tests.fixtures.databases import fresh_postgres_database
from tests.fixtures.servers import eagate_serve
from tests.fixtures.storage import query, uuid_param

SECRETS = (
    "SELECT id, secret_key_id, secret_ciphertext, previous_secret_key_id, "
    "previous_secret_ciphertext, secret_fingerprint FROM devices ORDER BY id"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def test_generate_prints_a_fresh_master_key(tmp_path: Path) -> None:
    cli = Cli(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    first, second = cli.ok("keys", "generate"), cli.ok("keys", "generate")
    assert first.stdout != second.stdout
    for result in (first, second):
        text = result.stdout.strip()
        assert result.stdout == text + "\n"  # one line, nothing else: `$(eagate keys generate)`
        assert len(base64.b64decode(text, validate=True)) == 32
        assert key_id(text) in result.stderr
    assert not (tmp_path / "unused.db").exists()


def _fleet(cli: Cli) -> dict[str, Any]:
    """An owner with an ordinary, a rotated (old secret in grace) and a revoked device."""
    owner = cli.new_owner()
    plain, rotated, revoked = (cli.register(owner["email"]) for _ in range(3))
    renewed = cli.json("devices", "rotate", "--email", owner["email"], rotated["id"])
    cli.ok("devices", "revoke", "--email", owner["email"], revoked["id"])
    return {
        "owner": owner,
        "plain": plain,
        "rotated_old": rotated,
        "rotated_new": renewed,
        "revoked": revoked,
    }


def _rotate_master_end_to_end(cli: Cli, tmp_path: Path) -> None:
    old_key = cli.settings["EAGATE_MASTER_KEY"]
    fleet = _fleet(cli)
    before = query(cli.database_url, SECRETS)
    assert {row.secret_key_id for row in before} == {key_id(old_key)}
    assert sum(row.previous_secret_key_id is not None for row in before) == 1

    new_key = new_master_key_text()
    cli.settings["EAGATE_MASTER_KEY"] = new_key

    # Not told the old key: refuses, names it, changes nothing.
    refused = cli("keys", "rotate-master")
    assert refused.returncode == 2, describe(refused)
    assert key_id(old_key) in refused.stderr
    assert "Nothing was changed" in one_line(refused.stderr)
    assert query(cli.database_url, SECRETS) == before

    cli.settings["EAGATE_PREVIOUS_MASTER_KEYS"] = old_key
    dry = cli.json("keys", "rotate-master", "--dry-run")
    assert dry["dry_run"] is True
    assert (dry["devices"], dry["rows_rekeyed"], dry["already_current"]) == (3, 3, 0)
    assert (dry["secrets_rekeyed"], dry["previous_secrets_rekeyed"]) == (3, 1)
    assert query(cli.database_url, SECRETS) == before

    done = cli.ok("keys", "rotate-master", "--batch-size", "2")
    assert "devices re-encrypted" in done.stdout
    assert "done" in done.stderr
    after = query(cli.database_url, SECRETS)
    assert {row.secret_key_id for row in after} == {key_id(new_key)}
    assert [row.previous_secret_key_id for row in after] == [
        key_id(new_key) if row.previous_secret_key_id else None for row in before
    ]
    for old, new in zip(before, after, strict=True):
        assert new.secret_ciphertext != old.secret_ciphertext
        assert new.secret_fingerprint == old.secret_fingerprint  # the same secrets
        if old.previous_secret_ciphertext is not None:
            assert new.previous_secret_ciphertext != old.previous_secret_ciphertext

    again = cli.json("keys", "rotate-master")
    assert (again["rows_rekeyed"], again["already_current"], again["remaining"]) == (0, 3, 0)

    # A server given only the new key verifies every device, the old secret in grace included.
    only_new = {
        "EAGATE_MASTER_KEY": new_key,
        "EAGATE_DATABASE_URL": cli.database_url,
        "EAGATE_JWT_SECRET": "j" * 40,
    }
    with eagate_serve(tmp_path / "server", **only_new) as server:
        assert wait_for_status(server.url, fleet["plain"], 200).status_code == 200
        assert wait_for_status(server.url, fleet["rotated_old"], 200).status_code == 200
        assert wait_for_status(server.url, fleet["rotated_new"], 200).status_code == 200
        revoked = wait_for_status(server.url, fleet["revoked"], 401)
        assert revoked.json()["code"] == "device_revoked"


def test_rotate_master_on_sqlite(tmp_path: Path) -> None:
    _rotate_master_end_to_end(new_cli(tmp_path), tmp_path)


@pytest.mark.slow
def test_rotate_master_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    _rotate_master_end_to_end(new_cli(tmp_path, postgres_url), tmp_path)


def test_rotate_master_needs_a_configured_master_key(tmp_path: Path) -> None:
    cli = new_cli(tmp_path)
    del cli.settings["EAGATE_MASTER_KEY"]  # the key generated into the data dir
    result = cli("keys", "rotate-master")
    assert result.returncode == 2, describe(result)
    assert "EAGATE_MASTER_KEY is not set" in one_line(result.stderr)


def test_rotate_master_reports_a_tampered_secret_and_rekeys_the_rest(tmp_path: Path) -> None:
    cli = new_cli(tmp_path)
    owner = cli.new_owner()
    good, bad = cli.register(owner["email"]), cli.register(owner["email"])
    (row,) = query(
        cli.database_url,
        "SELECT secret_ciphertext FROM devices WHERE id = :id",
        id=uuid_param(cli.database_url, bad["id"]),
    )
    tampered = bytes([row.secret_ciphertext[0] ^ 1]) + row.secret_ciphertext[1:]
    _execute(
        cli.database_url,
        "UPDATE devices SET secret_ciphertext = :c WHERE id = :id",
        c=tampered,
        id=uuid_param(cli.database_url, bad["id"]),
    )
    old_key = cli.settings["EAGATE_MASTER_KEY"]
    cli.settings.update(
        EAGATE_MASTER_KEY=new_master_key_text(), EAGATE_PREVIOUS_MASTER_KEYS=old_key
    )

    result = cli("keys", "rotate-master", "--json")
    assert result.returncode == 1, describe(result)
    report = json.loads(result.stdout)
    assert report["undecryptable"] == [
        {"device_id": bad["id"], "column": "secret", "key_id": key_id(old_key)}
    ]
    assert report["rows_rekeyed"] == 1
    assert bad["id"] in result.stderr
    rows = {
        row.id: row.secret_key_id
        for row in query(cli.database_url, "SELECT id, secret_key_id FROM devices")
    }
    assert rows[uuid_param(cli.database_url, good["id"])] == cli.current_key_id()
    assert rows[uuid_param(cli.database_url, bad["id"])] == key_id(old_key)


def test_rekey_commits_batch_by_batch_and_resumes(tmp_path: Path) -> None:
    cli = new_cli(tmp_path)
    owner = cli.new_owner()
    for _ in range(5):
        cli.register(owner["email"])
    old = decode_master_key(cli.settings["EAGATE_MASTER_KEY"])
    new = decode_master_key(new_master_key_text())
    box = SecretBox(new, (old,))

    class Interrupted(Exception):
        pass

    seen: list[tuple[int, int]] = []

    def interrupt_after_two(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _rekey(cli.database_url, box, batch_size=2, progress=interrupt_after_two)
    assert seen == [(0, 5), (2, 5)]
    under_new = query(
        cli.database_url, "SELECT id FROM devices WHERE secret_key_id = :k", k=box.current_key_id
    )
    assert len(under_new) == 2  # the first batch was committed

    seen.clear()
    report = _rekey(cli.database_url, box, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert (report.devices, report.rows_to_rekey, report.rows_rekeyed) == (5, 3, 3)
    assert report.already_current == 2
    assert report.complete


def _rekey(url: str, box: SecretBox, **options: Any) -> RekeyReport:
    async def run() -> RekeyReport:
        database = Database(url)
        try:
            return await rekey_device_secrets(database, box, **options)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _execute(url: str, sql: str, **params: Any) -> None:
    async def run() -> None:
        database = Database(url)
        try:
            async with database.transaction() as session:
                await session.execute(sa.text(sql), params)
        finally:
            await database.dispose()

    asyncio.run(run())
