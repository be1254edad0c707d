"""The instance lease: without Redis, one `eagate serve` per database (SPEC 4).

Without Redis an instance keeps its replay cache in its own memory, so two instances on one
database would each accept a captured request once. Every `eagate serve` therefore holds a
lease on its database for as long as it runs: exclusive without Redis, shared with Redis. A
second instance without Redis, or an instance with Redis next to one without, cannot get it
and refuses to start. Instances that share Redis share the lease.

- PostgreSQL: a session-level advisory lock, on a connection of its own held open by a
  thread with its own event loop (uvicorn's loop never waits on it). The connection is checked
  every few seconds; if it dropped (the lock went with it) the lease is taken again on a new
  one. If another instance took it meanwhile, this one has lost it: ``on_lost`` is called
  (`eagate serve` then stops, exit 1). While the database is unreachable nothing can take it.
- SQLite: ``flock`` on ``<database file>.instance.lock`` (created 0600 next to the real
  file: symlinks are followed, as SQLite follows them), released by the kernel when the
  process ends, however it ends. The check notices the file being removed or replaced (a new
  instance would lock the new file) and handles it like a drop.

Operator commands (`eagate migrate`, `eagate clients ...`) are not instances and take no
lease; neither do apps built in-process (tests): the lease belongs to the serving process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from eagate.kit.datadir import ensure_private_file, sqlite_file

log = logging.getLogger("eagate.lease")

T = TypeVar("T")

# pg_try_advisory_lock's 64-bit key: fixed, and unlikely to collide with another
# application's advisory locks in the same database.
LEASE_KEY = int.from_bytes(hashlib.sha256(b"eagate instance lease").digest()[:8], signed=True)
LOCK_FILE_SUFFIX = ".instance.lock"
_ACQUIRE_TIMEOUT = 10.0


class InstanceLeaseRefused(RuntimeError):
    """Another instance holds the lease in a way this one cannot share (one-line message)."""


def refusal_message(*, with_redis: bool) -> str:
    """What the refused instance says: always names EAGATE_REDIS_URL, the way out."""
    if with_redis:
        return (
            "an eagate instance without EAGATE_REDIS_URL is serving this database; "
            "stop it, or give every instance the same EAGATE_REDIS_URL"
        )
    return (
        "another eagate instance is serving this database; without EAGATE_REDIS_URL only one "
        "may (replays could pass between them): set EAGATE_REDIS_URL on every instance"
    )


class _Lock(Protocol):
    async def try_acquire(self) -> bool:
        """Take the lock if free (or shareable); False if someone else holds it."""

    async def held(self) -> bool:
        """Whether the lock taken is still ours (False: dropped, take it again)."""

    async def release(self) -> None: ...


class _AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a dedicated AUTOCOMMIT connection (no open
    transaction: it holds back no vacuum)."""

    def __init__(self, database_url: str, *, shared: bool, timeout: float) -> None:
        self._engine: AsyncEngine | None = None
        self._url = database_url
        self._connection: AsyncConnection | None = None
        self._function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        self._timeout = timeout

    async def try_acquire(self) -> bool:
        await self._close()
        if self._engine is None:
            self._engine = create_async_engine(
                self._url, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True
            )
        connection = await asyncio.wait_for(self._engine.connect(), self._timeout)
        try:
            got = await asyncio.wait_for(
                connection.scalar(text(f"SELECT {self._function}(:key)"), {"key": LEASE_KEY}),
                self._timeout,
            )
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            await asyncio.wait_for(self._connection.scalar(text("SELECT 1")), self._timeout)
        except (SQLAlchemyError, OSError, TimeoutError):
            await self._close()
            return False
        return True

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Already gone, if it fails: the server released the lock with it.
            with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
                await asyncio.wait_for(connection.close(), self._timeout)

    async def release(self) -> None:
        await self._close()
        if self._engine is not None:
            await self._engine.dispose()


class _FileLock:
    """``flock`` on a lock file next to the SQLite database (Linux and macOS)."""

    def __init__(self, path: Path, *, shared: bool) -> None:
        self.path = path
        self._operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        await self.release()
        ensure_private_file(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, self._operation)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def held(self) -> bool:
        if self._fd is None:
            return False
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        ours = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) == (ours.st_dev, ours.st_ino)

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock


class InstanceLease:
    """A held lease and the thread that keeps it; ``release()`` at shutdown."""

    def __init__(
        self, lock: _Lock, *, refusal: str, check_seconds: float, on_lost: Callable[[], None]
    ) -> None:
        self._lock = lock
        self._refusal = refusal
        self._check_seconds = check_seconds
        self._on_lost = on_lost
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="eagate-instance-lease", daemon=True
        )
        self._keeper: concurrent.futures.Future[None] | None = None
        self.lost = False

    def _call(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def acquire(self, *, attempts_for: float) -> None:
        """Take the lease or raise InstanceLeaseRefused; retried for ``attempts_for`` seconds
        (a predecessor just killed may still hold it for a moment)."""
        self._thread.start()
        deadline = time.monotonic() + attempts_for
        try:
            while not self._call(self._lock.try_acquire(), _ACQUIRE_TIMEOUT * 2):
                if time.monotonic() >= deadline:
                    raise InstanceLeaseRefused(self._refusal)
                time.sleep(0.2)
        except BaseException:
            self.release()
            raise
        self._keeper = asyncio.run_coroutine_threadsafe(self._keep(), self._loop)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                if await self._lock.held():
                    continue
                log.warning("the instance lease's hold was lost; taking it again")
                if await self._lock.try_acquire():
                    log.warning("instance lease taken again")
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is unreachable: no other instance can take the lease either.
                log.warning("cannot check the instance lease (%s); retrying", type(exc).__name__)
                continue
            self.lost = True
            log.error("instance lease lost to another instance: %s", self._refusal)
            self._on_lost()
            return

    def release(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
        if self._thread.is_alive():
            try:
                self._call(self._lock.release(), _ACQUIRE_TIMEOUT)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=_ACQUIRE_TIMEOUT)
        if not self._loop.is_running():
            self._loop.close()


def acquire_instance_lease(
    *,
    database_url: str,
    with_redis: bool,
    on_lost: Callable[[], None],
    check_seconds: float = 5.0,
    attempts_for: float = 2.0,
) -> InstanceLease | None:
    """Hold the lease of ``database_url`` for this serving process, or raise
    InstanceLeaseRefused. None for an in-memory SQLite database (nothing to share)."""
    lock: _Lock
    if database_url.startswith("sqlite"):
        path = sqlite_file(database_url)
        if path is None:
            return None
        # Next to the file itself, however it is reached: SQLite follows symlinks to the
        # database (its -wal and -shm live by the real file), so must the lease, or an
        # instance reaching it through a link would hold a lease of its own.
        path = path.resolve()
        lock = _FileLock(path.with_name(path.name + LOCK_FILE_SUFFIX), shared=with_redis)
    else:
        lock = _AdvisoryLock(database_url, shared=with_redis, timeout=_ACQUIRE_TIMEOUT)
    lease = InstanceLease(
        lock,
        refusal=refusal_message(with_redis=with_redis),
        check_seconds=check_seconds,
        on_lost=on_lost,
    )
    lease.acquire(attempts_for=attempts_for)
    return lease
