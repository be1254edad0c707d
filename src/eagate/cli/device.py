"""`eagate device run`: a simulated Expert Advisor built on the device SDK."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from eagate.client import (
    AckConflictError,
    DeviceApiError,
    DeviceAuthError,
    DeviceClient,
    DeviceConnectionError,
    DeviceRevokedError,
    DeviceSignal,
    RateLimitedError,
    ServerError,
)

app = typer.Typer(name="device", no_args_is_help=True)

_KEY_HELP = (
    "The device secret (64 hex characters). Prefer the EAGATE_DEVICE_SECRET environment "
    "variable: a secret given on the command line is visible to other users in `ps` and is "
    "kept in shell history."
)

# Worth another try later; anything else (revoked, bad secret, a rejected request) is final.
_TRANSIENT = (DeviceConnectionError, ServerError, RateLimitedError)
_MAX_PAUSE = 60.0

Sleep = Callable[[float], Awaitable[None]]


@app.callback()
def device() -> None:
    """Act as a device: a simulated EA that signs its requests like a real one."""


@app.command()
def run(
    url: Annotated[str, typer.Option(help="Server root URL, e.g. http://127.0.0.1:8000")],
    device_id: Annotated[
        str, typer.Option(envvar="EAGATE_DEVICE_ID", help="The device id (a UUID)")
    ],
    secret: Annotated[
        str, typer.Option(envvar="EAGATE_DEVICE_SECRET", help=_KEY_HELP, show_default=False)
    ],
    wait: Annotated[
        int,
        typer.Option(min=0, max=30, help="Long-poll up to this many seconds (0: short polls)"),
    ] = 25,
    once: Annotated[
        bool, typer.Option("--once", help="Poll once, acknowledge what arrives, exit")
    ] = False,
) -> None:
    """Long-poll for signals, print each and acknowledge it as placed with a made-up ticket."""
    console = Console()
    try:
        device = DeviceClient(url, device_id, secret, timeout=10.0)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        code = asyncio.run(run_device(device, wait=wait, once=once, console=console))
    except KeyboardInterrupt:
        # asyncio.run cancelled the loop, which closed the client's connections.
        console.print("stopped")
        code = 0
    raise typer.Exit(code)


async def run_device(
    device: DeviceClient,
    *,
    wait: int,
    once: bool,
    console: Console,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """The simulated EA's loop; returns the process exit code. Closes `device` when done."""
    async with device:
        unacked: dict[uuid.UUID, str] = {}  # signal id -> ticket, for acks still to deliver
        failures = 0
        connected = False
        try:
            while True:
                started = time.monotonic()
                try:
                    if not connected:
                        me = await device.me()
                        connected = True
                        console.print(
                            f"connected as [bold]{_escape(me.device_name)}[/bold] "
                            f"({me.device_id}); clock offset {device.clock_offset:+.1f} s"
                        )
                    await _deliver_acks(device, unacked, console)
                    result = await device.poll(wait=wait)
                except _TRANSIENT as exc:
                    if once:
                        console.print(f"[red]server unavailable:[/red] {_escape(str(exc))}")
                        return 1
                    failures += 1
                    pause = min(_MAX_PAUSE, 2.0**failures)
                    console.print(
                        f"[yellow]server unavailable[/yellow] ({_escape(str(exc))}); "
                        f"next try in {pause:.0f} s"
                    )
                    await sleep(pause)
                    continue
                failures = 0
                for signal in result.signals:
                    console.print(_describe(signal))
                    unacked[signal.signal_id] = _made_up_ticket()
                await _deliver_acks(device, unacked, console)
                if once:
                    return 0 if not unacked else 1
                if not result.signals:
                    # Nothing came: keep at least next_poll_seconds between polls, even when a
                    # long poll returned early.
                    elapsed = time.monotonic() - started
                    await sleep(max(0.0, result.next_poll_seconds - elapsed))
        except DeviceRevokedError:
            console.print("[red]this device is revoked:[/red] stopping")
            return 3
        except DeviceAuthError as exc:
            console.print(
                f"[red]refused ({exc.code}):[/red] check the device id, the secret and the URL"
            )
            return 2
        except DeviceApiError as exc:
            console.print(f"[red]error {exc.status} {exc.code}:[/red] {_escape(exc.detail)}")
            return 1


async def _deliver_acks(
    device: DeviceClient, unacked: dict[uuid.UUID, str], console: Console
) -> None:
    """Acknowledge each placed signal; an ack that fails transiently stays for the next round
    (repeating an ack is safe: the server answers the same ack with the first result)."""
    for signal_id, ticket in list(unacked.items()):
        try:
            ack = await device.ack(
                signal_id, "placed", broker_ticket=ticket, executed_at=datetime.now(UTC)
            )
        except _TRANSIENT as exc:
            console.print(
                f"[yellow]ack of {signal_id} failed[/yellow] ({_escape(str(exc))}); will retry"
            )
            continue
        except AckConflictError:
            console.print(f"[yellow]{signal_id} was already acknowledged differently[/yellow]")
        else:
            console.print(f"acked {ack.signal_id}: {ack.status}, ticket {ack.broker_ticket}")
        del unacked[signal_id]


def _describe(signal: DeviceSignal) -> Text:
    """One line per signal, readable at any terminal width."""
    line = Text()
    line.append(f"signal {signal.signal_id}", style="bold")
    line.append(f" (attempt {signal.attempt}): ")
    line.append(f"{signal.side.upper()} {signal.order_type} {signal.instrument} {signal.volume}")
    if signal.price is not None:
        line.append(f" @ {signal.price}")
    for name, value in (("sl", signal.sl), ("tp", signal.tp)):
        if value is not None:
            line.append(f" {name} {value}")
    if signal.comment:
        line.append(f" {signal.comment!r}")
    line.append(f", expires {signal.expires_at:%Y-%m-%d %H:%M:%SZ}")
    return line


def _made_up_ticket() -> str:
    """A plausible MT5 position ticket: nine digits."""
    return str(100_000_000 + secrets.randbelow(900_000_000))


def _escape(text: str) -> str:
    return escape(text)
