"""Fixtures of the operator-command tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.databases import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings naming one database: SQLite in a data dir of its own, or a new PostgreSQL."""
    if request.param == "sqlite":
        yield {"EAGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared' / 'eagate.db'}"}
        return
    with fresh_postgres_database() as url:
        yield {"EAGATE_DATABASE_URL": url}
