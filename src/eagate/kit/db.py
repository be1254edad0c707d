"""Engine and session factory, and the declarative base shared by every domain's models."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, Numeric, String, Table, TypeDecorator, Uuid, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeEngine

log = logging.getLogger("eagate.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Engine-level execution option: read-only work on SQLite begins a deferred transaction, so
# readers never queue behind the write lock that ``BEGIN IMMEDIATE`` takes.
SQLITE_READ_ONLY = "eagate_sqlite_read_only"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal stored exactly: NUMERIC on PostgreSQL, canonical text on SQLite (whose
    NUMERIC affinity would silently turn 0.1 into a binary float)."""

    impl = Numeric(28, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return format(value.normalize(), "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).normalize()


async def insert_ignoring_conflict(
    session: AsyncSession, table: Table, values: dict[str, Any]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either backend; True if the row was inserted.

    The database, not a check-then-insert, decides who wins a race, and a conflict does not
    abort a PostgreSQL transaction the way a caught IntegrityError would.
    """
    dialect = session.bind.dialect.name if session.bind is not None else ""
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
    result = await session.execute(statement.values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        uuid.UUID: Uuid,
        Decimal: ExactDecimal,
    }


def after_commit(session: AsyncSession, hook: Callable[[], Awaitable[None]]) -> None:
    """Await ``hook`` once this session's transaction has committed (never on rollback).

    Caches, wake-ups and cross-instance notices must follow committed state: acting before
    the commit would let a concurrent reader observe, and cache, the old row. Hooks run
    inside ``Database.transaction()`` before it returns, so a request that revoked a device
    has told every instance before its response is sent.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


_AFTER_COMMIT = "eagate_after_commit"


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Without foreign_keys=ON, ON DELETE CASCADE silently does nothing.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A transaction that reads then writes cannot upgrade its lock while another writer
        # holds it ("database is locked" at once); taking the write lock up front lets
        # busy_timeout queue writers instead.
        if conn.get_execution_options().get(SQLITE_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=8, max_overflow=8, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    # hide_parameters: an error that reaches a log must not carry hashes or ciphertext.
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


class DatabaseBusy(Exception):
    """A write waited longer than ``Database.write_wait_seconds`` for its turn."""


# The task that holds this process's SQLite write turn (see ``Database``): a write
# transaction it opens inside its own is not queued behind itself. A task created meanwhile
# inherits the variable but is another task, so it still queues.
_WRITE_TURN_HOLDER: ContextVar[asyncio.Task[Any] | None] = ContextVar(
    "eagate_write_turn_holder", default=None
)


class Database:
    """The engine, the two session factories (read-write and read-only), and on SQLite the
    queue of this process's writers.

    SQLite lets one transaction write at a time. Left to ``busy_timeout``, waiting writers
    poll the lock with growing sleeps, and whichever looks when it is free wins: under a
    stream of short writers (the claims of a thousand long-polls arriving at once) a signal's
    transaction could lose for many seconds and its devices hear of it only when their
    long-polls time out. So this process's write transactions take turns, first come first
    served, before they take a pooled connection; ``BEGIN IMMEDIATE`` then finds the lock
    free unless another process (an operator command) holds it, which ``busy_timeout`` covers.
    """

    def __init__(self, url: str, *, write_wait_seconds: float = 10.0) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(**{SQLITE_READ_ONLY: True}), expire_on_commit=False
        )
        self.write_wait_seconds = write_wait_seconds
        # One per event loop (the CLI may run several loops over one Database in turn).
        self._write_turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def _write_turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._write_turns is None or self._write_turns[0] is not loop:
            self._write_turns = (loop, asyncio.Lock())
        return self._write_turns[1]

    @asynccontextmanager
    async def _writer_turn(self, read_only: bool) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if read_only or not self.is_sqlite or _WRITE_TURN_HOLDER.get() is task:
            yield
            return
        turn = self._write_turn()
        try:
            async with asyncio.timeout(self.write_wait_seconds):
                await turn.acquire()
        except TimeoutError:
            raise DatabaseBusy(f"no turn to write within {self.write_wait_seconds:g} s") from None
        holder = _WRITE_TURN_HOLDER.set(task)
        try:
            yield
        finally:
            try:
                _WRITE_TURN_HOLDER.reset(holder)
            except ValueError:  # left in another context than entered (a framework's choice)
                _WRITE_TURN_HOLDER.set(None)
            turn.release()

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success (then run the after-commit hooks, once this
        process's next writer may already go on), roll back on any error."""
        factory = self.read_sessions if read_only else self.sessions
        # The session takes a pooled connection at its first statement, after the turn.
        async with factory() as session:
            async with self._writer_turn(read_only), session.begin():
                yield session
            for hook in session.info.pop(_AFTER_COMMIT, ()):
                try:
                    await hook()
                except Exception:
                    # The transaction is committed: a failed notice must not turn it into an
                    # error response. Each hook has its own fallback (see its docstring).
                    log.exception("after-commit hook failed")

    async def dispose(self) -> None:
        await self.engine.dispose()
