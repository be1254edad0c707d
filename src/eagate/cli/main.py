from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from eagate.cli.clients import app as clients_app
from eagate.cli.device import app as device_app
from eagate.cli.devices import app as devices_app
from eagate.cli.keys import app as keys_app
from eagate.cli.signals import app as signals_app
from eagate.keys import KeyConfigurationError, load_server_keys
from eagate.logs import configure_logging
from eagate.migrations_runner import upgrade_to_head
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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    err.print("[green]schema is at head[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Apply migrations, then serve the API."""
    import uvicorn

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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    uvicorn.run(
        "eagate.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
        # Longer than any sensible poll interval, so a terminal polling every few seconds
        # keeps its connection instead of racing the server's close (uvicorn's default: 5 s).
        timeout_keep_alive=75,
    )


def main() -> None:
    app()
