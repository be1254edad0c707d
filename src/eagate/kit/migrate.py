"""Bring the schema to head with Alembic (used by `eagate migrate`, `eagate serve` and tests)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from eagate.kit.datadir import prepare_sqlite_file

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration. Synchronous: call it before the event loop starts, or
    from a thread."""
    prepare_sqlite_file(database_url)  # 0600 (and its -wal, -shm) before SQLite makes it
    command.upgrade(alembic_config(database_url), "head")


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
