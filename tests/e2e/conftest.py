"""Fixtures for end-to-end tests: a real `eagate serve` process per database backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import (
    fresh_postgres_database,
)
from tests.servers import ServerProcess, eagate_serve


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@contextmanager
def serve(backend: str, data_dir: Path, **settings: str) -> Iterator[ServerProcess]:
    """`eagate serve` over a fresh database: SQLite in `data_dir`, or a new PostgreSQL one."""
    if backend == "sqlite":
        with eagate_serve(data_dir, **settings) as server:
            yield server
        return
    with (
        fresh_postgres_database() as database_url,
        eagate_serve(data_dir, EAGATE_DATABASE_URL=database_url, **settings) as server,
    ):
        yield server


@pytest.fixture(scope="package")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with default settings, shared by the package's tests (each makes its own
    owners)."""
    with serve(backend, tmp_path_factory.mktemp(f"e2e-{backend}")) as process:
        yield process
