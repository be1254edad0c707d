"""Issue 10, defect 5, continued: who holds the instance lease. An instance with Redis and
one without cannot share a database; a symlink does not hide a database; the lease file is
private; on PostgreSQL a dropped lease connection is taken again, and an instance that lost its
lease stops."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from eagate.kit.lease import LEASE_KEY
from tests.fixtures.databases import REDIS_URL, fresh_postgres_database, require_service
from tests.fixtures.servers import (
    assert_refused_without_redis,
    eagate_process,
    eagate_serve,
    free_port,
)

pytestmark = pytest.mark.slow


def test_an_instance_with_redis_cannot_join_one_without(
    shared_database: dict[str, str], tmp_path: Path
) -> None:
    redis_url = require_service(REDIS_URL, "Redis", "EAGATE_TEST_REDIS_URL")
    with eagate_serve(tmp_path / "a", name="a", **shared_database):
        joined = eagate_process(
            tmp_path / "b",
            "serve",
            "--port",
            str(free_port()),
            EAGATE_REDIS_URL=redis_url,
            **shared_database,
        )
    assert_refused_without_redis(joined)
    with eagate_serve(tmp_path / "a", name="c", EAGATE_REDIS_URL=redis_url, **shared_database):
        alone = eagate_process(
            tmp_path / "b", "serve", "--port", str(free_port()), **shared_database
        )
    assert_refused_without_redis(alone)


@pytest.mark.parametrize("link", ["file", "directory"])
def test_a_symlink_to_the_database_is_the_same_database(tmp_path: Path, link: str) -> None:
    """SQLite follows symlinks to the database file (its -wal and -shm go next to the real
    file), so a second instance reaching it through a link shares the database: refused."""
    real = tmp_path / "shared" / "eagate.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if link == "file":
        through_link = elsewhere / "linked.db"
        with eagate_serve(
            tmp_path / "a", name="a", EAGATE_DATABASE_URL=f"sqlite+aiosqlite:///{real}"
        ):
            through_link.symlink_to(real)
            second = eagate_process(
                tmp_path / "b",
                "serve",
                "--port",
                str(free_port()),
                EAGATE_DATABASE_URL=f"sqlite+aiosqlite:///{through_link}",
            )
    else:
        (elsewhere / "data").symlink_to(real.parent, target_is_directory=True)
        through_link = elsewhere / "data" / "eagate.db"
        with eagate_serve(
            tmp_path / "a", name="a", EAGATE_DATABASE_URL=f"sqlite+aiosqlite:///{real}"
        ):
            second = eagate_process(
                tmp_path / "b",
                "serve",
                "--port",
                str(free_port()),
                EAGATE_DATABASE_URL=f"sqlite+aiosqlite:///{through_link}",
            )
    assert_refused_without_redis(second)


def test_the_lease_file_is_private(tmp_path: Path) -> None:
    with eagate_serve(tmp_path, name="a"):
        lock = tmp_path / "eagate.db.instance.lock"
        assert lock.stat().st_mode & 0o777 == 0o600


# -- PostgreSQL: the lease's connection drops


async def _lease_holders(url: str) -> list[int]:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def _terminate(url: str, pids: list[int], *, then_take: bool) -> object:
    """Terminate the lease holders; with ``then_take``, hold the lease like a new instance
    (the returned connection holds it until closed)."""
    import asyncpg

    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    for pid in pids:
        await connection.execute("SELECT pg_terminate_backend($1)", pid)
    if then_take:
        deadline = time.monotonic() + 10
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", LEASE_KEY):
            assert time.monotonic() < deadline, "the terminated holder never let go"
            await asyncio.sleep(0.05)
        return connection
    await connection.close()
    return None


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def _wait_for_holders(url: str, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while len(holders := asyncio.run(_lease_holders(url))) != count:
        assert time.monotonic() < deadline, holders
        time.sleep(0.05)
    return holders


def test_a_dropped_lease_connection_is_taken_again(postgres_database: str, tmp_path: Path) -> None:
    settings = {
        "EAGATE_DATABASE_URL": postgres_database,
        "EAGATE_INSTANCE_LEASE_CHECK_SECONDS": "0.2",
    }
    with eagate_serve(tmp_path / "a", name="a", **settings) as first:
        [holder] = _wait_for_holders(postgres_database, 1)
        asyncio.run(_terminate(postgres_database, [holder], then_take=False))
        [new_holder] = _wait_for_holders(postgres_database, 1)
        assert new_holder != holder
        assert first.process.poll() is None
        second = eagate_process(tmp_path / "b", "serve", "--port", str(free_port()), **settings)
        assert_refused_without_redis(second)


def test_an_instance_that_lost_its_lease_stops(postgres_database: str, tmp_path: Path) -> None:
    settings = {
        "EAGATE_DATABASE_URL": postgres_database,
        "EAGATE_INSTANCE_LEASE_CHECK_SECONDS": "0.2",
    }
    with eagate_serve(tmp_path / "a", name="a", **settings) as first:
        [holder] = _wait_for_holders(postgres_database, 1)

        async def lose_it() -> None:
            taker = await _terminate(postgres_database, [holder], then_take=True)
            try:
                # The first instance finds the lease taken and stops, with the reason.
                await asyncio.to_thread(first.process.wait, 20)
            finally:
                await taker.close()  # type: ignore[attr-defined]

        asyncio.run(lose_it())
        assert first.process.returncode == 1
        log = first.log()
        assert "EAGATE_REDIS_URL" in log.splitlines()[-1]
        assert "Traceback" not in log
    assert os.path.exists(tmp_path / "a")
