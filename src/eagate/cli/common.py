"""What the operator commands share: settings and keys resolved as for `eagate serve`, one
event loop per command, and failures turned into a message and an exit code.

Exit codes: 0 done; 1 refused or failed (unknown email or device, a rule of the service, a
database problem); 2 bad usage or configuration (what a re-run with other arguments or
settings would fix).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts import service as accounts
from eagate.accounts.models import Client
from eagate.accounts.schemas import Email
from eagate.cluster.coordination import Listeners, RedisCoordination
from eagate.devices import changes as device_changes
from eagate.kit.keys import KeyConfigurationError
from eagate.kit.logs import configure_logging
from eagate.kit.migrate import head_revision
from eagate.kit.problems import ProblemError
from eagate.runtime import Core, build_core
from eagate.settings import Settings

T = TypeVar("T")


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or captured: Rich would assume 80 columns and cut ids and dates in tables.
        console.width = 200
    return console


out = _console(stderr=False)
err = _console(stderr=True)


class CommandError(Exception):
    """A failure explained to the operator: message on stderr, then this exit code."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> typer.Exit:
    """Print ``message`` (plain text, never markup) as an error; the Exit to raise."""
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(exit_code)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        raise fail(f"invalid settings: {validation_messages(exc)}", 2) from None
    configure_logging(settings.log_level)
    return settings


def load_core(settings: Settings | None = None) -> Core:
    """Keys, database and secret box from the environment, exactly as `eagate serve`."""
    settings = settings or load_settings()
    try:
        return build_core(settings)
    except KeyConfigurationError as exc:
        raise fail(f"unusable keys: {exc}", 2) from None


def run(work: Callable[[Core], Awaitable[T]], core: Core | None = None) -> T:
    """Run ``work`` against a database whose schema is at head, then close it."""
    core = core or load_core()

    async def main() -> T:
        # With Redis, tell running servers of credential changes at once (the database
        # outbox would reach them within a second anyway).
        shared = (
            RedisCoordination(core.settings.redis_url, Listeners.nobody())
            if core.settings.redis_url
            else None
        )
        if shared is not None:
            device_changes.subscribe(shared.devices_changed)
        try:
            await _require_schema_at_head(core)
            return await work(core)
        finally:
            if shared is not None:
                device_changes.unsubscribe(shared.devices_changed)
                await shared.aclose()
            await core.database.dispose()

    try:
        return asyncio.run(main())
    except CommandError as exc:
        raise fail(exc.message, exc.exit_code) from None
    except ProblemError as exc:
        raise fail(f"{exc.detail} ({exc.code})") from None
    except DBAPIError as exc:
        # The driver's message only: SQLAlchemy's own text carries the statement's
        # parameters, which may be hashes or ciphertext.
        raise fail(f"database error: {type(exc.orig).__name__}: {exc.orig}") from None
    except (SQLAlchemyError, OSError) as exc:
        raise fail(f"database error: {type(exc).__name__}: {exc}") from None


async def _require_schema_at_head(core: Core) -> None:
    try:
        async with core.database.transaction(read_only=True) as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except (SQLAlchemyError, OSError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        raise CommandError(
            f"cannot read the schema version ({type(orig).__name__}: {orig}); is the "
            "database reachable, and migrated with `eagate migrate`?"
        ) from None
    head = head_revision()
    if current != head:
        raise CommandError(
            f"the database schema is at revision {current}, not {head}: run `eagate migrate`"
        )


_EMAIL = TypeAdapter(Email)


def validation_messages(exc: ValidationError) -> str:
    """Field and message of each error, never the offending input (it may be a password)."""
    messages = []
    for error in exc.errors():
        # pydantic's "Value error, " prefix says nothing to an operator.
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        messages.append(f"{field}: {message}" if field else message)
    return "; ".join(messages)


def normalize_email(value: str) -> str:
    """An email as sign-up stores it (trimmed, lower-cased, checked); a usage error if not."""
    try:
        return _EMAIL.validate_python(value)
    except ValidationError as exc:
        raise typer.BadParameter(validation_messages(exc)) from None


EmailOption = Annotated[
    str,
    typer.Option(
        "--email",
        help="The owner's email (case-insensitive)",
        callback=normalize_email,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


async def owner_by_email(session: AsyncSession, email: str) -> Client:
    client = await accounts.get_client_by_email(session, email)
    if client is None:
        raise CommandError(f"no account with the email {email}")
    return client


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%SZ}" if value is not None else "-"


def id_column(table: Table, header: str = "ID") -> None:
    # Ids are what operators copy into the next command: never wrapped or cut.
    table.add_column(header, no_wrap=True, min_width=36, overflow="ignore")


def plain(value: object) -> Text:
    """A cell shown as given: names and emails may hold Rich markup characters."""
    return Text(str(value))


__all__ = [
    "CommandError",
    "EmailOption",
    "JsonOption",
    "emit_json",
    "err",
    "fail",
    "id_column",
    "load_core",
    "out",
    "owner_by_email",
    "plain",
    "run",
    "when",
]
