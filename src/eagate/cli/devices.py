"""`eagate devices ...`: an owner's devices, managed by an operator (audit actor
``operator:cli``) through the same services as the owner API."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from eagate.audit.service import OPERATOR_CLI
from eagate.cli.common import (
    EmailOption,
    JsonOption,
    emit_json,
    err,
    fail,
    id_column,
    out,
    owner_by_email,
    plain,
    run,
    validation_messages,
    when,
)
from eagate.devices import schemas, service
from eagate.devices.models import Device
from eagate.kit.clock import Clock
from eagate.kit.paging import MAX_LIMIT, PageRequest
from eagate.runtime import Core

app = typer.Typer(name="devices", no_args_is_help=True)

DeviceIdArgument = Annotated[
    uuid.UUID, typer.Argument(metavar="DEVICE_ID", help="The device id", show_default=False)
]
ONCE_WARNING = (
    "This secret will not be shown again: store it in the EA's inputs now. "
    "Only its fingerprint is kept where it can be read."
)


@app.callback()
def devices() -> None:
    """An owner's devices: list, register, revoke, rotate a secret (operators)."""


def _table(devices: list[schemas.Device], title: str) -> Table:
    table = Table(title=plain(title), title_justify="left")
    id_column(table)
    table.add_column("Name", overflow="fold")
    table.add_column("Status")
    table.add_column("Fingerprint", no_wrap=True)
    table.add_column("Created")
    table.add_column("Last seen")
    for device in devices:
        status = "active" if device.is_active else "revoked"
        if device.revoke_reason:
            status += f": {device.revoke_reason}"
        table.add_row(
            str(device.id),
            plain(device.device_name),
            plain(status),
            device.secret_fingerprint,
            when(device.created_at),
            when(device.last_seen_at),
        )
    return table


def _show_with_secret(result: service.DeviceWithNewSecret, json_output: bool, note: str) -> None:
    device = schemas.DeviceWithSecret.model_validate(
        {**schemas.Device.model_validate(result.device).model_dump(), "secret": result.secret}
    )
    if json_output:
        emit_json(device.model_dump(mode="json"))
        err.print(ONCE_WARNING, style="bold yellow")
        return
    out.print(_table([device], note))
    out.print(ONCE_WARNING, style="bold yellow")
    # Alone on its line, outside any table, so it is copied whole.
    typer.echo(device.secret)


@app.command("list")
def list_devices(
    email: EmailOption,
    include_revoked: Annotated[
        bool, typer.Option("--include-revoked", help="Also list revoked devices")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List an owner's devices, oldest first."""

    async def work(core: Core) -> list[Device]:
        async with core.database.transaction(read_only=True) as session:
            client = await owner_by_email(session, email)
            found: list[Device] = []
            after: uuid.UUID | None = None
            while True:
                page = await service.list_devices(
                    session,
                    client_id=client.id,
                    page=PageRequest(limit=MAX_LIMIT, after=after),
                    include_revoked=include_revoked,
                )
                found.extend(page.items)
                if page.next_after is None:
                    return found
                after = page.next_after

    devices = [schemas.Device.model_validate(device) for device in run(work)]
    if json_output:
        emit_json([device.model_dump(mode="json") for device in devices])
        return
    which = "device(s)" if include_revoked else "active device(s)"
    out.print(_table(devices, f"{email}: {len(devices)} {which}"))


@app.command()
def register(
    email: EmailOption,
    name: Annotated[str, typer.Option("--name", help="The device name", show_default=False)],
    json_output: JsonOption = False,
) -> None:
    """Register a device for an owner and print its secret, this once only."""
    try:
        device_name = schemas.DeviceCreate(device_name=name).device_name
    except ValidationError as exc:
        raise fail(validation_messages(exc), 2) from None

    async def work(core: Core) -> service.DeviceWithNewSecret:
        async with core.database.transaction() as session:
            client = await owner_by_email(session, email)
            return await service.register(
                session,
                client_id=client.id,
                device_name=device_name,
                secret_box=core.secret_box,
                actor=OPERATOR_CLI,
                now=Clock().now(),
            )

    _show_with_secret(run(work), json_output, "registered")


@app.command()
def revoke(
    email: EmailOption,
    device_id: DeviceIdArgument,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (at most 128 characters)")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a device for good: its next request is refused (every instance, within ~1 s)."""
    try:
        checked_reason = schemas.DeviceRevoke(reason=reason).reason
    except ValidationError as exc:
        raise fail(validation_messages(exc), 2) from None

    async def work(core: Core) -> Device:
        async with core.database.transaction() as session:
            client = await owner_by_email(session, email)
            return await service.revoke(
                session,
                client_id=client.id,
                device_id=device_id,
                reason=checked_reason,
                actor=OPERATOR_CLI,
                now=Clock().now(),
            )

    device = schemas.Device.model_validate(run(work))
    if json_output:
        emit_json(device.model_dump(mode="json"))
        return
    out.print(_table([device], "revoked"))


@app.command()
def rotate(
    email: EmailOption, device_id: DeviceIdArgument, json_output: JsonOption = False
) -> None:
    """Issue a new secret for a device and print it, this once only."""

    async def work(core: Core) -> tuple[service.DeviceWithNewSecret, int]:
        grace = core.settings.secret_grace_seconds
        async with core.database.transaction() as session:
            client = await owner_by_email(session, email)
            result = await service.rotate_secret(
                session,
                client_id=client.id,
                device_id=device_id,
                secret_box=core.secret_box,
                grace_seconds=grace,
                actor=OPERATOR_CLI,
                now=Clock().now(),
            )
        return result, grace

    result, grace = run(work)
    _show_with_secret(result, json_output, "new secret issued")
    if grace > 0:
        err.print(
            "The previous secret keeps working until the device first signs with the new one, "
            f"or for {grace} s (EAGATE_SECRET_GRACE_SECONDS), whichever comes first."
        )
    else:
        err.print("The rotated-out key no longer works (EAGATE_SECRET_GRACE_SECONDS is 0).")
