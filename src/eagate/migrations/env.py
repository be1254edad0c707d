"""Alembic environment: runs migrations over the same async engine setup as the app."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

# Every domain's tables, registered on Base.metadata by importing their models.
import eagate.accounts.models
import eagate.audit.models
import eagate.devices.models
import eagate.signals.models  # noqa: F401
from eagate.kit.db import Base, create_engine
from eagate.settings import Settings

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or Settings().resolved_database_url
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
