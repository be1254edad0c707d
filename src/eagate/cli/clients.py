"""`eagate clients ...`: owner accounts, managed directly in the database by an operator."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from eagate.accounts import service as accounts
from eagate.accounts.models import Client
from eagate.accounts.schemas import Owner, SignupRequest
from eagate.accounts.security import build_passwords
from eagate.audit.service import OPERATOR_CLI
from eagate.cli.common import (
    CommandError,
    EmailOption,
    JsonOption,
    emit_json,
    err,
    fail,
    id_column,
    normalize_email,
    out,
    owner_by_email,
    plain,
    run,
    validation_messages,
    when,
)
from eagate.devices import service as devices
from eagate.kit.clock import Clock
from eagate.runtime import Core

app = typer.Typer(name="clients", no_args_is_help=True)

# Read from the environment or a hidden prompt only: a command-line argument would be visible
# to every user in `ps` and kept in shell history.
PASSWORD_ENV = "EAGATE_CLIENT_PASSWORD"  # noqa: S105 (a variable name)


@app.callback()
def clients() -> None:
    """Owner accounts: create, list, delete, lock (operators, acting on the database
    directly)."""


@app.command()
def create(email: EmailOption, json_output: JsonOption = False) -> None:
    """Create an owner account (password from EAGATE_CLIENT_PASSWORD, else a hidden prompt)."""
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True, err=True
    )
    try:
        request = SignupRequest(email=email, password=password)
    except ValidationError as exc:
        raise fail(validation_messages(exc), 2) from None

    async def work(core: Core) -> Client:
        # Hashed before the transaction opens: a running server's writers never wait on it.
        password_hash = await build_passwords(core.settings).hash(request.password)
        async with core.database.transaction() as session:
            return await accounts.create_client(
                session, email=request.email, password_hash=password_hash, now=Clock().now()
            )

    client = Owner.model_validate(run(work))
    if json_output:
        emit_json(client.model_dump(mode="json"))
        return
    out.print(f"created owner {client.email}\nid {client.id}", markup=False)


@app.command("list")
def list_clients(json_output: JsonOption = False) -> None:
    """List every owner account, oldest first, with its device counts."""

    async def work(core: Core) -> list[devices.ClientSummary]:
        async with core.database.transaction(read_only=True) as session:
            return await devices.list_clients(session)

    summaries = run(work)
    if json_output:
        emit_json(
            [
                {
                    **Owner.model_validate(s.client).model_dump(mode="json"),
                    "devices": s.devices,
                    "active_devices": s.active_devices,
                }
                for s in summaries
            ]
        )
        return
    table = Table(title=f"{len(summaries)} owner account(s)", title_justify="left")
    id_column(table)
    table.add_column("Email", overflow="fold")
    table.add_column("Created")
    table.add_column("Active devices", justify="right")
    table.add_column("All devices", justify="right")
    for s in summaries:
        table.add_row(
            str(s.client.id),
            plain(s.client.email),
            when(s.client.created_at),
            str(s.active_devices),
            str(s.devices),
        )
    out.print(table)


@app.command()
def delete(
    email: EmailOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete an owner account and everything it owns, as DELETE /clients/me does."""

    async def work(core: Core) -> devices.ClientSummary:
        async with core.database.transaction(read_only=True) as session:
            client = await owner_by_email(session, email)
            summary = await devices.summarize_client(session, client.id)
        if summary is None:
            raise CommandError(f"no account with the email {email}")
        if not yes:
            # Asked with no transaction open: nothing is locked while the operator decides.
            typer.confirm(
                f"Delete {email} with its {summary.devices} device(s), their signals, "
                "deliveries and audit trail? This cannot be undone",
                abort=True,
                err=True,
            )
        async with core.database.transaction() as session:
            if await accounts.get_client(session, client.id) is None:
                raise CommandError(f"the account {email} was deleted meanwhile")
            # Records an auth change for each device, so running servers drop their keys.
            await accounts.delete_client(session, client.id, now=Clock().now())
        return summary

    summary = run(work)
    out.print(
        f"deleted owner {summary.client.email} ({summary.client.id}) "
        f"and its {summary.devices} device(s)",
        markup=False,
    )
    err.print("its devices can no longer sign; its access tokens are refused")


# `eagate clients lock EMAIL`: the email as an argument, as operators type it.
EmailArgument = Annotated[
    str,
    typer.Argument(
        metavar="EMAIL",
        help="The owner's email (case-insensitive)",
        callback=normalize_email,
        show_default=False,
    ),
]


def _set_locked(email: str, *, locked: bool) -> int:
    async def work(core: Core) -> int:
        async with core.database.transaction() as session:
            client = await owner_by_email(session, email)
            return await accounts.set_locked(
                session, client.id, locked=locked, actor=OPERATOR_CLI, now=Clock().now()
            )

    return run(work)


@app.command()
def lock(email: EmailArgument) -> None:
    """Lock an account: every session is revoked at once, and sign-in is refused (403
    account_locked) until `eagate clients unlock`."""
    revoked = _set_locked(email, locked=True)
    out.print(f"locked {email}; {revoked} session(s) revoked", markup=False)


@app.command()
def unlock(email: EmailArgument) -> None:
    """Unlock an account locked with `eagate clients lock` (its owner signs in again)."""
    _set_locked(email, locked=False)
    out.print(f"unlocked {email}", markup=False)


@app.command("reset-lockout")
def reset_lockout(email: EmailArgument) -> None:
    """Clear the sign-in throttle of an email (too many failed sign-ins), on every instance."""

    async def work(core: Core) -> None:
        async with core.database.transaction() as session:
            client = await owner_by_email(session, email)
            await accounts.reset_lockout(session, client.id)

    run(work)
    out.print(f"sign-in attempts of {email} may start again", markup=False)
