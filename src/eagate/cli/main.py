from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from eagate.cli.clients import app as clients_app
from eagate.cli.common import fail
from eagate.cli.device import app as device_app
from eagate.cli.devices import app as devices_app
from eagate.cli.keys import app as keys_app
from eagate.cli.signals import app as signals_app
from eagate.cluster.redis_policy import UnsafeRedisPolicy, check_redis_eviction
from eagate.kit.datadir import ensure_private_dir
from eagate.kit.keys import KeyConfigurationError, load_server_keys
from eagate.kit.lease import (
    InstanceLease,
    InstanceLeaseRefused,
    acquire_instance_lease,
    refusal_message,
)
from eagate.kit.logs import configure_logging
from eagate.kit.migrate import upgrade_to_head
from eagate.settings import Settings

app = typer.Typer(
    name="eagate",
    help="Device registry and signed device API for MetaTrader 5 Expert Advisors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(device_app, name="device")
app.add_typer(clients_app, name="clients")
app.add_typer(devices_app, name="devices")
app.add_typer(keys_app, name="keys")
app.add_typer(signals_app, name="signals")
err = Console(stderr=True)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    return settings


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision."""
    settings = _settings()
    ensure_private_dir(settings.data_dir)
    upgrade_to_head(settings.resolved_database_url)
    err.print("[green]schema is at head[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Apply migrations, then serve the API."""
    settings = _settings()
    if workers > 1 and not settings.redis_url:
        err.print(
            "[red]--workers > 1 needs EAGATE_REDIS_URL[/red]: without Redis, replay protection "
            "and long-poll wake-ups live in one process's memory."
        )
        raise typer.Exit(2)
    try:
        load_server_keys(settings)  # fail before serving, with a clear message
    except KeyConfigurationError as exc:
        err.print(f"[red]refusing to start:[/red] {exc}")
        raise typer.Exit(2) from exc
    if settings.redis_url:
        try:
            asyncio.run(check_redis_eviction(settings.redis_url, env=settings.env))
        except UnsafeRedisPolicy as exc:
            raise fail(f"refusing to start: {exc}", 2) from None
    ensure_private_dir(settings.data_dir)
    serving = _Serving()
    lease = _take_instance_lease(settings, stop_serving=serving.stop)
    try:
        upgrade_to_head(settings.resolved_database_url)
        serving.run(host=host, port=port, workers=workers)
    finally:
        if lease is not None:
            lease.release()
    if lease is not None and lease.lost:
        raise fail(f"stopped: {refusal_message(with_redis=bool(settings.redis_url))}", 1)


def _take_instance_lease(
    settings: Settings, *, stop_serving: Callable[[], None]
) -> InstanceLease | None:
    """This process's lease on its database (lease.py), or a one-line refusal."""
    try:
        return acquire_instance_lease(
            database_url=settings.resolved_database_url,
            with_redis=bool(settings.redis_url),
            on_lost=stop_serving,
            check_seconds=settings.instance_lease_check_seconds,
        )
    except InstanceLeaseRefused as exc:
        raise fail(f"refusing to start: {exc}", 2) from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise fail(
            f"refusing to start: cannot take the instance lease ({type(exc).__name__})", 2
        ) from None


class _Serving:
    """uvicorn, and a way to stop it gracefully from another thread (a lost lease)."""

    def __init__(self) -> None:
        self._server: Any = None

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True  # read by uvicorn's main loop within 0.1 s
        else:
            os.kill(os.getpid(), signal.SIGTERM)  # the worker supervisor stops its workers

    def run(self, *, host: str, port: int, workers: int) -> None:
        import uvicorn

        options: dict[str, Any] = {
            "factory": True,
            "host": host,
            "port": port,
            "log_config": None,
            "access_log": False,
            "proxy_headers": True,
            "server_header": False,
            "timeout_graceful_shutdown": 10,
            # Longer than any sensible poll interval, so a terminal polling every few seconds
            # keeps its connection instead of racing the server's close (uvicorn's default: 5 s).
            "timeout_keep_alive": 75,
        }
        if workers > 1:
            uvicorn.run(_APP_FACTORY, workers=workers, **options)
            return
        # One process: run the server ourselves, so a lost lease can stop it without a signal
        # (uvicorn re-raises a caught SIGTERM at exit, which would hide our exit code).
        self._server = server = uvicorn.Server(uvicorn.Config(_APP_FACTORY, **options))
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            raise typer.Exit(3)  # as uvicorn.run: it could not start (logged above)


_APP_FACTORY = "eagate.app:serve_app"


def main() -> None:
    app()
