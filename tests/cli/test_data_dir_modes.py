"""Issue 10, defect 8: the data dir is created 0700 and its files 0600 (SPEC 7), by
`eagate migrate` and `eagate serve` alike, whatever the umask leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.owners import new_owner
from tests.fixtures.servers import eagate_serve, server_environment


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_migrate_creates_a_private_data_dir_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    result = subprocess.run(
        [sys.executable, "-m", "eagate", "migrate"],
        env=server_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert mode(data_dir) == 0o700
    files = sorted(data_dir.iterdir())
    assert data_dir / "eagate.db" in files
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_a_database_file_elsewhere_is_created_private(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "db" / "eagate.db"
    result = subprocess.run(
        [sys.executable, "-m", "eagate", "migrate"],
        env=server_environment(
            tmp_path / "data", EAGATE_DATABASE_URL=f"sqlite+aiosqlite:///{database}"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert mode(database.parent) == 0o700
    assert mode(database) == 0o600


async def test_serve_keeps_the_data_dir_and_every_file_in_it_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    previous = os.umask(0o022)  # the common default, under which mkdir gives 0755
    try:
        with eagate_serve(tmp_path / "logs", EAGATE_DATA_DIR=str(data_dir)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                await new_owner(client)  # a write: the WAL and shared-memory files exist
            files = {path.name: mode(path) for path in data_dir.iterdir()}
    finally:
        os.umask(previous)
    assert mode(data_dir) == 0o700
    assert {
        "eagate.db",
        "eagate.db-wal",
        "eagate.db-shm",
        "master.key",
        "jwt.secret",
    } <= set(files)
    assert files == dict.fromkeys(files, 0o600)
