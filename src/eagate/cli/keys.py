"""`eagate keys ...`: master keys for operators (see SECURITY.md, "Rotating the master key")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eagate.cli.common import CommandError, JsonOption, emit_json, err, load_core, out, run
from eagate.devices.rekey import BATCH_SIZE, RekeyReport, UnknownMasterKeys, rekey_device_secrets
from eagate.devices.secrets import key_id_of
from eagate.kit.keys import decode_master_key, new_master_key_text
from eagate.runtime import Core

app = typer.Typer(name="keys", no_args_is_help=True)


@app.callback()
def keys() -> None:
    """Master keys: generate one, re-encrypt every device secret under the current one."""


@app.command()
def generate() -> None:
    """Print a new random master key (base64 of 32 bytes) for EAGATE_MASTER_KEY."""
    text = new_master_key_text()
    typer.echo(text)
    err.print(
        f"key id {key_id_of(decode_master_key(text))}. Keep it outside the database (a secret "
        "manager); whoever has it and a database copy can read every device secret."
    )


@app.command("rotate-master")
def rotate_master(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be re-encrypted; change nothing")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Devices per transaction")
    ] = BATCH_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Re-encrypt every device secret under EAGATE_MASTER_KEY (resumable, idempotent)."""
    core = load_core()
    if core.settings.master_key is None:
        err.print(
            "[bold red]error:[/bold red] EAGATE_MASTER_KEY is not set. Set it to the new key "
            "(`eagate keys generate`) and EAGATE_PREVIOUS_MASTER_KEYS to the old one(s)."
        )
        raise typer.Exit(2)
    previous = [key_id_of(key) for key in core.keys.previous_master_keys]
    err.print(
        f"current master key id {core.secret_box.current_key_id}; "
        f"previous: {', '.join(previous) or 'none'}"
    )

    async def work(core: Core) -> RekeyReport:
        with Progress(
            TextColumn("checking" if dry_run else "re-encrypting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task = bar.add_task("devices", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            try:
                return await rekey_device_secrets(
                    core.database,
                    core.secret_box,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=progress,
                )
            except UnknownMasterKeys as exc:
                listed = ", ".join(
                    f"{key_id} ({count} secret(s))"
                    for key_id, count in sorted(exc.secrets_by_key_id.items())
                )
                raise CommandError(
                    f"refusing: some device secrets are under master keys this process does "
                    f"not know: {listed}. Add the key(s) they were written with to "
                    "EAGATE_PREVIOUS_MASTER_KEYS (comma-separated) and run again. "
                    "Nothing was changed." + ("" if not dry_run else " (dry run)"),
                    exit_code=2,
                ) from None

    try:
        report = run(work, core)
    except KeyboardInterrupt:
        err.print("interrupted: the batches done so far are committed; run it again to finish")
        raise typer.Exit(130) from None
    _show(report, json_output)
    if report.undecryptable:
        for item in report.undecryptable:
            err.print(
                f"device {item.device_id}: its {item.column.replace('_', ' ')} does not decrypt "
                f"under key id {item.key_id} (tampered with or copied from another row)"
            )
        err.print(
            "[bold red]error:[/bold red] these secrets were left as they were; that device "
            "cannot authenticate: revoke it, or rotate its secret, then run this again."
        )
        raise typer.Exit(1)
    if report.remaining and not dry_run:
        err.print(
            f"[bold red]error:[/bold red] {report.remaining} device(s) were written under "
            "another key during the run (an instance still has an older EAGATE_MASTER_KEY?); "
            "update every instance, then run this again."
        )
        raise typer.Exit(1)
    if not dry_run:
        err.print(
            "[green]done:[/green] every device secret is under the current master key. Remove "
            "the old key from EAGATE_PREVIOUS_MASTER_KEYS on every instance."
        )


def _show(report: RekeyReport, json_output: bool) -> None:
    if json_output:
        emit_json(
            {
                "dry_run": report.dry_run,
                "current_key_id": report.current_key_id,
                "devices": report.devices,
                "already_current": report.already_current,
                "rows_rekeyed": report.rows_rekeyed,
                "secrets_rekeyed": report.secrets_rekeyed,
                "previous_secrets_rekeyed": report.previous_secrets_rekeyed,
                "undecryptable": [
                    {"device_id": str(u.device_id), "column": u.column, "key_id": u.key_id}
                    for u in report.undecryptable
                ],
                "remaining": report.remaining,
            }
        )
        return
    verb = "to re-encrypt" if report.dry_run else "re-encrypted"
    table = Table(
        title=f"master key {report.current_key_id}" + (" (dry run)" if report.dry_run else ""),
        title_justify="left",
        show_header=False,
    )
    table.add_column()
    table.add_column(justify="right")
    table.add_row("devices", str(report.devices))
    table.add_row("already under the current key", str(report.already_current))
    table.add_row(f"devices {verb}", str(report.rows_rekeyed))
    table.add_row(f"secrets {verb}", str(report.secrets_rekeyed))
    table.add_row(f"rotated-out secrets {verb}", str(report.previous_secrets_rekeyed))
    if report.undecryptable:
        table.add_row("undecryptable secrets", str(len(report.undecryptable)))
    out.print(table)
