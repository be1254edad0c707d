"""Running the operator commands (`eagate clients|devices|keys`) as real processes, and looking
at what they left in the database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from eagate.devices.secrets import key_id_of
from eagate.kit.keys import decode_master_key, new_master_key_text
from eagate.kit.signing import signed_headers
from tests.servers import server_environment

PASSWORD = "operator-chosen password"
ME = "/api/v1/device/me"


def key_id(master_key_text: str) -> str:
    return key_id_of(decode_master_key(master_key_text))


@dataclass
class Cli:
    """`python -m eagate ...` against one database, with settings from the environment only."""

    data_dir: Path
    database_url: str
    settings: dict[str, str] = field(default_factory=dict)

    def current_key_id(self) -> str:
        return key_id(self.settings["EAGATE_MASTER_KEY"])

    def env(self, **settings: str) -> dict[str, str]:
        return server_environment(
            self.data_dir,
            EAGATE_DATABASE_URL=self.database_url,
            EAGATE_JWT_SECRET="j" * 40,
            **{**self.settings, **settings},
        )

    def __call__(
        self, *args: str, input: str = "", **settings: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eagate", *args],
            env=self.env(**settings),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            # No controlling terminal: a hidden prompt reads stdin instead of /dev/tty.
            start_new_session=True,
            check=False,
        )

    def ok(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        result = self(*args, **settings)
        assert result.returncode == 0, describe(result)
        return result

    def json(self, *args: str, **settings: str) -> Any:
        return json.loads(self.ok(*args, "--json", **settings).stdout)

    def new_owner(self, email: str | None = None) -> dict[str, Any]:
        email = email or f"owner-{uuid.uuid4().hex[:10]}@example.com"
        owner: dict[str, Any] = self.json(
            "clients", "create", "--email", email, EAGATE_CLIENT_PASSWORD=PASSWORD
        )
        return owner

    def register(self, email: str, name: str | None = None) -> dict[str, Any]:
        device: dict[str, Any] = self.json(
            "devices", "register", "--email", email, "--name", name or f"EA {uuid.uuid4().hex[:6]}"
        )
        return device


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def one_line(text: str) -> str:
    """Output with line breaks and runs of spaces collapsed (Rich wraps long messages)."""
    return " ".join(text.split())


def new_cli(tmp_path: Path, database_url: str | None = None, **settings: str) -> Cli:
    """A Cli on a fresh database (SQLite in ``tmp_path`` unless given), migrated by
    `eagate migrate` itself, with a configured master key."""
    data_dir = tmp_path / "data"
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'db' / 'eagate.db'}"
    (tmp_path / "db").mkdir(exist_ok=True)
    cli = Cli(data_dir, url, {"EAGATE_MASTER_KEY": new_master_key_text(), **settings})
    cli.ok("migrate")
    return cli


def query(database_url: str, sql: str, **params: Any) -> list[Row[Any]]:
    """Rows straight from the database (for behaviour that is about storage)."""

    async def run() -> list[Row[Any]]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return list(await connection.execute(sa.text(sql), params))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def uuid_param(database_url: str, value: str) -> Any:
    """A UUID as each backend stores it (SQLite: 32 hex chars; PostgreSQL: uuid)."""
    parsed = uuid.UUID(value)
    return parsed.hex if database_url.startswith("sqlite") else parsed


def signed_get(
    base_url: str, device: dict[str, Any], *, secret: str | None = None
) -> httpx.Response:
    headers = signed_headers(
        secret=secret or device["secret"],
        device_id=device["id"],
        method="GET",
        path_and_query=ME,
        timestamp=int(time.time()),
    )
    return httpx.get(base_url + ME, headers=headers, timeout=10)


def wait_for_status(
    base_url: str,
    device: dict[str, Any],
    status: int,
    code: str | None = None,
    *,
    secret: str | None = None,
    timeout: float = 10,
) -> httpx.Response:
    """Sign fresh requests until one gets ``status`` (changes made by another process reach a
    server through the auth-change outbox, read every half second)."""
    deadline = time.monotonic() + timeout
    while True:
        response = signed_get(base_url, device, secret=secret)
        matches = response.status_code == status and (
            code is None or response.json().get("code") == code
        )
        if matches or time.monotonic() > deadline:
            return response
        time.sleep(0.1)
