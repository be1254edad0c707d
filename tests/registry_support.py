"""Helpers for the account and device-registry suites (kept apart from the shared helpers.py).

Reading the database directly is reserved for behaviour that is about storage (cascading
deletes, what is kept at rest); everything else goes through HTTP.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from tests.helpers import Owner

API = "/api/v1"

DEVICE_FIELDS = {
    "id",
    "client_id",
    "device_name",
    "is_active",
    "created_at",
    "updated_at",
    "revoked_at",
    "revoke_reason",
    "last_poll_at",
    "last_ack_at",
    "last_seen_at",
    "secret_fingerprint",
}

# ISO 8601 in UTC with a literal Z (SPEC section 1).
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
SECRET_FORMAT = re.compile(r"^[0-9a-f]{64}$")


def backend_of(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def xfail_on_backend(
    request: pytest.FixtureRequest, database_url: str, backend: str, reason: str
) -> None:
    """Mark this run of a both-databases test as a known (strict) failure on one backend."""
    if backend_of(database_url) == backend:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError))


def device_url(device_id: str, action: str = "") -> str:
    return f"{API}/devices/{device_id}" + (f"/{action}" if action else "")


async def get_device(client: httpx.AsyncClient, owner: Owner, device_id: str) -> dict[str, Any]:
    response = await client.get(device_url(device_id), headers=owner.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_devices(
    client: httpx.AsyncClient, owner: Owner, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/devices", params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def rename(
    client: httpx.AsyncClient, owner: Owner, device_id: str, name: str
) -> httpx.Response:
    return await client.patch(
        device_url(device_id), json={"device_name": name}, headers=owner.headers
    )


async def revoke(
    client: httpx.AsyncClient, owner: Owner, device_id: str, reason: str | None = None
) -> httpx.Response:
    body = {"reason": reason} if reason is not None else {}
    return await client.post(device_url(device_id, "revoke"), json=body, headers=owner.headers)


async def audit_events(
    client: httpx.AsyncClient, owner: Owner, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/audit", params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def follow_pages(
    client: httpx.AsyncClient, owner: Owner, first_url: str
) -> list[list[dict[str, Any]]]:
    """Every page, following Link rel="next" until it is no longer announced."""
    pages: list[list[dict[str, Any]]] = []
    url: str | None = first_url
    while url is not None:
        response = await client.get(url, headers=owner.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = response.links.get("next", {}).get("url")
        assert len(pages) <= 100, "pagination never ends"
    return pages


@asynccontextmanager
async def non_raising(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same app, but an unhandled server error comes back as a response to assert on
    (the shared client re-raises it in the test, which would hide the status)."""
    transport = httpx.ASGITransport(app=client.app, raise_app_exceptions=False)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url=client.base_url) as raw:
        yield raw


@asynccontextmanager
async def direct_db(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection of our own, outside the app, for asserting what is stored."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


# Just the columns these tests read: independent of the app's models as they evolve.
clients_table = sa.table("clients", sa.column("id", sa.Uuid()))
devices_table = sa.table(
    "devices",
    sa.column("id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("secret_ciphertext", sa.LargeBinary()),
    sa.column("previous_secret_ciphertext", sa.LargeBinary()),
)
audit_table = sa.table("audit_events", sa.column("client_id", sa.Uuid()))


async def count_rows(connection: AsyncConnection, table: Any, **equals: str) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in equals.items():
        query = query.where(table.c[column] == uuid.UUID(value))
    return int((await connection.execute(query)).scalar_one())


async def table_names(connection: AsyncConnection) -> list[str]:
    def names(sync_connection: sa.Connection) -> list[str]:
        return sa.inspect(sync_connection).get_table_names()

    return await connection.run_sync(names)


async def tables_with_column(connection: AsyncConnection, column: str) -> list[str]:
    def find(sync_connection: sa.Connection) -> list[str]:
        inspector = sa.inspect(sync_connection)
        return [
            table
            for table in inspector.get_table_names()
            if column in {c["name"] for c in inspector.get_columns(table)}
        ]

    return await connection.run_sync(find)


async def tables_referring_to(connection: AsyncConnection, referred: str) -> list[str]:
    """Tables with a foreign key to `referred` (rows that must go when theirs does)."""

    def find(sync_connection: sa.Connection) -> list[str]:
        inspector = sa.inspect(sync_connection)
        return [
            table
            for table in inspector.get_table_names()
            if any(fk["referred_table"] == referred for fk in inspector.get_foreign_keys(table))
        ]

    return await connection.run_sync(find)
