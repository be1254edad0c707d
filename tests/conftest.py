"""Shared fixtures: each test runs against SQLite and PostgreSQL through the public HTTP API."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy.engine import make_url

from eagate.app import create_app
from eagate.kit.clock import Clock
from eagate.kit.migrate import upgrade_to_head
from eagate.settings import Settings

# Settings come from each test, never from the developer's shell.
for _name in [name for name in os.environ if name.startswith("EAGATE_")]:
    if not _name.startswith("EAGATE_TEST_") and _name != "EAGATE_REQUIRE_SERVICES":
        del os.environ[_name]

POSTGRES_URL = os.environ.get("EAGATE_TEST_POSTGRES_URL")
REQUIRE_SERVICES = os.environ.get("EAGATE_REQUIRE_SERVICES") == "1"


def _redis_url_for_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist, each worker counts (throttles, nonces) in its own Redis database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + int(worker[2:])) % 16}"))


REDIS_URL = _redis_url_for_this_worker(os.environ.get("EAGATE_TEST_REDIS_URL"))


def require_service(url: str | None, name: str, variable: str) -> str:
    """The service URL, or a skip (a failure when EAGATE_REQUIRE_SERVICES=1, as in CI)."""
    if url:
        return url
    reason = f"{name} not configured: set {variable} to run this test"
    if REQUIRE_SERVICES:
        pytest.fail(reason + " (EAGATE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


async def _postgres_admin(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    admin = make_url(url).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_postgres_database(base_url: str) -> str:
    """A fresh, migrated database on the configured PostgreSQL server; returns its URL."""
    name = f"eagate_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres_admin(base_url, f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    return url


def drop_postgres_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    asyncio.run(_postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new migrated PostgreSQL database for one test, dropped afterwards (a skip, or in CI a
    failure, where PostgreSQL is not configured)."""
    base = require_service(POSTGRES_URL, "PostgreSQL", "EAGATE_TEST_POSTGRES_URL")
    url = create_postgres_database(base)
    try:
        yield url
    finally:
        drop_postgres_database(base, url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database shared by the session's tests (each test makes its own owners)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "eagate.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_to_head(url)
        yield url
        return
    base = require_service(POSTGRES_URL, "PostgreSQL", "EAGATE_TEST_POSTGRES_URL")
    url = create_postgres_database(base)
    try:
        yield url
    finally:
        drop_postgres_database(base, url)


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "env": "test",
        # Cheap Argon2 keeps the suite fast; the production floor is tested separately.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        # Every test signs up its own owners, from one address: only the tests of that limit
        # set it (a shared Redis would otherwise count every test's sign-ups together).
        "sign_ups_per_ip": 1_000_000,
        **overrides,
    }
    return Settings(**values)


AppClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_client(database_url: str, tmp_path: Path) -> AppClientFactory:
    """Build an app (with optional settings overrides and clock) and an HTTP client for it."""

    @asynccontextmanager
    async def factory(
        *, clock: Clock | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(database_url, tmp_path / "data", **overrides)
        app = create_app(settings, clock=clock)
        async with app.fastapi.router.lifespan_context(app.fastapi):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://eagate.test"
            ) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

    return factory


@pytest.fixture
async def client(app_client: AppClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as http:
        yield http
