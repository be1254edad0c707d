"""Device secrets at rest: a copy of the database must not reveal them (SPEC section 3).

These tests read storage directly, because what is stored is the behaviour under test.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.databases import backend_of
from tests.fixtures.devices import device_url, register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.storage import devices_table, direct_db, table_names


def text_forms(secret: str) -> list[str]:
    """Ways a careless implementation might keep a secret in a text column."""
    raw = bytes.fromhex(secret)
    sha_hex = hashlib.sha256(secret.encode()).hexdigest()
    return [
        secret,
        secret.upper(),
        sha_hex,
        sha_hex.upper(),
        hashlib.sha256(raw).hexdigest(),
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(raw).decode(),
        base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode(),
    ]


def byte_forms(secret: str) -> list[bytes]:
    """The same, plus the raw bytes of the secret and of its digest, for binary storage."""
    return [
        *(form.encode() for form in text_forms(secret)),
        bytes.fromhex(secret),
        hashlib.sha256(secret.encode()).digest(),
        hashlib.sha256(bytes.fromhex(secret)).digest(),
    ]


def assert_absent(haystack: str | bytes, secret: str, where: str) -> None:
    if isinstance(haystack, bytes):
        for needle in byte_forms(secret):
            assert needle not in haystack, f"a form of the secret is stored in {where}"
    else:
        for text in text_forms(secret):
            assert text not in haystack, f"a form of the secret is stored in {where}"


async def every_row(connection: AsyncConnection) -> list[tuple[str, tuple[object, ...]]]:
    rows: list[tuple[str, tuple[object, ...]]] = []
    for table in await table_names(connection):
        result = await connection.execute(sa.text(f'SELECT * FROM "{table}"'))
        rows.extend((table, tuple(row)) for row in result)
    return rows


async def postgres_rows_as_text(connection: AsyncConnection) -> list[tuple[str, str]]:
    """PostgreSQL's own text rendering of every row (bytea appears as \\x-prefixed hex)."""
    rendered: list[tuple[str, str]] = []
    for table in await table_names(connection):
        result = await connection.execute(sa.text(f'SELECT t::text FROM "{table}" AS t'))
        rendered.extend((table, str(value)) for value in result.scalars())
    return rendered


def sqlite_files(database_url: str) -> list[Path]:
    database = Path(str(make_url(database_url).database))
    return [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]


async def make_device_with_rotated_secret(client: httpx.AsyncClient) -> tuple[str, list[str]]:
    """A device id and both secrets it has had (the first is kept for the grace period)."""
    owner = await new_owner(client)
    device = await register_device(client, owner)
    rotated = await client.post(device_url(device["id"], "rotate-secret"), headers=owner.headers)
    assert rotated.status_code == 200, rotated.text
    return device["id"], [device["secret"], rotated.json()["secret"]]


async def test_no_form_of_a_secret_is_stored_in_any_row(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, secrets = await make_device_with_rotated_secret(client)

    async with direct_db(database_url) as db:
        rows = await every_row(db)
        rendered = await postgres_rows_as_text(db) if backend_of(database_url) != "sqlite" else []

    assert any(table == "devices" for table, _ in rows)
    for secret in secrets:
        for table, row in rows:
            for value in row:
                if isinstance(value, bytes | bytearray | memoryview):
                    assert_absent(bytes(value), secret, f"a binary column of {table}")
                else:
                    assert_absent(str(value), secret, f"a column of {table}")
        for table, text in rendered:
            assert_absent(text, secret, f"the text form of a row of {table}")


async def test_no_form_of_a_secret_is_in_the_sqlite_files(
    client: httpx.AsyncClient, database_url: str
) -> None:
    if backend_of(database_url) != "sqlite":
        pytest.skip("PostgreSQL's files are the server's; its rows are checked above")
    _, secrets = await make_device_with_rotated_secret(client)

    files = sqlite_files(database_url)

    assert files, "the SQLite database file was not found"
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert_absent(content, secret, path.name)


async def test_the_stored_ciphertext_is_not_the_secret(
    client: httpx.AsyncClient, database_url: str
) -> None:
    device_id, (old_secret, new_secret) = await make_device_with_rotated_secret(client)

    async with direct_db(database_url) as db:
        row = (
            await db.execute(
                sa.select(
                    devices_table.c.secret_ciphertext, devices_table.c.previous_secret_ciphertext
                ).where(devices_table.c.id == uuid.UUID(device_id))
            )
        ).one()

    current, previous = bytes(row.secret_ciphertext), bytes(row.previous_secret_ciphertext)
    assert current != new_secret.encode()
    assert previous != old_secret.encode()
    # Encrypted, not merely encoded: longer than the plaintext (nonce and tag) and unique.
    assert len(current) > len(new_secret)
    assert current != previous
    for secret in (old_secret, new_secret):
        assert_absent(current, secret, "secret_ciphertext")
        assert_absent(previous, secret, "previous_secret_ciphertext")
