"""The data dir and the SQLite files in it: created private to the server's user (SPEC 7).

New directories are made 0700 and new files 0600, whatever the umask. An existing directory
or file keeps the mode the operator gave it: a deliberate choice (a backup group, say) is not
undone behind their back. SQLite gives its ``-wal`` and ``-shm`` files the mode of the
database file, so creating the database file 0600 before SQLite opens it covers all three.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """``path`` as a directory; created 0700 if missing (missing parents as ``mkdir -p``)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Another process may make it first: theirs stands.
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=PRIVATE_DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """``path`` as a file; created empty and 0600 if missing (its directory 0700)."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def prepare_sqlite_file(database_url: str) -> None:
    """Create a SQLite database file (and its directory) private before SQLite does."""
    path = sqlite_file(database_url)
    if path is not None:
        ensure_private_file(path)
