"""`eagate signals send`: an owner sends a test signal through the HTTP API (SPEC 5)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

app = typer.Typer(name="signals", no_args_is_help=True)

API = "/api/v1"
USER_AGENT = "eagate-cli/1"
PASSWORD_VARIABLE = "EAGATE_OWNER_PASSWORD"  # noqa: S105 (a variable name, not a password)
# A delivery in one of these has reached its end: nothing will change it but an ack.
FINAL_STATUSES = frozenset({"placed", "failed", "expired", "cancelled"})
_STATUS_STYLE = {"placed": "green", "failed": "red", "expired": "yellow", "cancelled": "yellow"}
_DEVICE_PAGES = 50  # x 200 devices: the names shown in the table, not worth more requests

_BEARER_HELP = (
    "An access token (from POST /api/v1/auth/token) instead of --email. Prefer the "
    "EAGATE_TOKEN environment variable: a command line is visible to other users in `ps` and "
    "is kept in shell history."
)
_EMAIL_HELP = (
    "The owner's email. The password is read from EAGATE_OWNER_PASSWORD, or asked for "
    "(hidden); it is never a command-line argument."
)


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class OrderType(StrEnum):
    market = "market"
    limit = "limit"
    stop = "stop"


class ApiError(Exception):
    """The server refused (problem+json when it could), or could not be reached."""

    def __init__(
        self, message: str, details: list[str] | None = None, *, unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.unreachable = unreachable


class OwnerApi:
    """The few owner endpoints this command needs, over one HTTP connection."""

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def use_token(self, token: str) -> None:
        self._http.headers["Authorization"] = f"Bearer {token}"

    def sign_in(self, email: str, password: str) -> None:
        response = self._send(
            "POST", f"{API}/auth/token", data={"username": email, "password": password}
        )
        body = json_of(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ApiError("the server's token response carries no access_token")
        self.use_token(token)

    def create_signal(self, body: bytes, idempotency_key: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            return self._send("POST", f"{API}/signals", content=body, headers=headers)
        except ApiError as error:
            if error.unreachable and idempotency_key is None:
                # The request may have arrived before the connection broke.
                error.details.append(
                    "the signal may have been created: check GET /api/v1/signals, or send "
                    "with --idempotency-key so that repeating the command is safe"
                )
            raise

    def get_signal(self, signal_id: str) -> httpx.Response:
        return self._send("GET", f"{API}/signals/{signal_id}")

    def device_names(self) -> dict[str, str]:
        """Device id -> name, revoked devices included (they may still have deliveries)."""
        names: dict[str, str] = {}
        target: str | None = f"{API}/devices?include_revoked=true&limit=200"
        for _ in range(_DEVICE_PAGES):
            if target is None:
                break
            response = self._send("GET", target)
            for device in json_of(response):
                names[str(device["id"])] = str(device["device_name"])
            target = response.links.get("next", {}).get("url")
        return names

    def _send(self, method: str, target: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, target, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(
                f"cannot reach {self._http.base_url} ({type(exc).__name__}: {exc})",
                unreachable=True,
            ) from exc
        if not response.is_success:
            raise _api_error(response)
        return response


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            f"{response.status_code} from {response.request.url} is not JSON: is --url right?"
        ) from None


def _api_error(response: httpx.Response) -> ApiError:
    """The message for a refusal: the problem's status, code and detail, and any field errors."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        # Not the API's problem+json (a proxy's error page, a wrong --url).
        return ApiError(
            f"{response.status_code} {response.reason_phrase} from {response.request.url}"
        )
    detail = body.get("detail") or body.get("title") or ""
    details = [
        f"{error.get('field', '?')}: {error.get('message', '?')}"
        for error in body.get("errors") or []
        if isinstance(error, dict)
    ]
    if len(details) == 1:
        details = []  # the detail says it already
    if body["code"] == "not_authenticated":
        details.append("the token is missing, expired or invalid: sign in with --email instead")
    return ApiError(f"{response.status_code} {body['code']}: {detail}", details)


def _number(text: str) -> Decimal:
    """A price or volume, kept as typed: it goes to the server as that exact JSON number."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not a finite number")
    return value


def signal_body(fields: dict[str, object]) -> bytes:
    """The request body, omitting unset fields. Decimals are written as the numbers typed:
    converting them to floats could round a long one silently instead of letting the server
    refuse it."""
    members = []
    for name, value in fields.items():
        if value is None:
            continue
        text = str(value) if isinstance(value, Decimal) else json.dumps(value, ensure_ascii=False)
        members.append(f"{json.dumps(name)}:{text}")
    return ("{" + ",".join(members) + "}").encode()


@app.callback()
def signals() -> None:
    """Act as an owner: send trading signals through the HTTP API."""


@app.command()
def send(
    side: Annotated[Side, typer.Option(help="buy or sell", case_sensitive=False)],
    volume: Annotated[
        Decimal,
        typer.Option(
            parser=_number, metavar="LOTS", help="Lots, > 0 and <= 1000", show_default=False
        ),
    ],
    url: Annotated[str, typer.Option(help="Server root URL")] = "http://127.0.0.1:8000",
    email: Annotated[
        str | None,
        typer.Option(envvar="EAGATE_OWNER_EMAIL", help=_EMAIL_HELP, show_default=False),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="EAGATE_TOKEN", help=_BEARER_HELP, show_default=False)
    ] = None,
    instrument: Annotated[str, typer.Option(help="Symbol, e.g. EURUSD or XAUUSD.m")] = "EURUSD",
    order_type: Annotated[
        OrderType | None,
        typer.Option(help="The server's default is market", case_sensitive=False),
    ] = None,
    price: Annotated[
        Decimal | None, typer.Option(parser=_number, metavar="PRICE", help="Required unless market")
    ] = None,
    sl: Annotated[
        Decimal | None, typer.Option(parser=_number, metavar="PRICE", help="Stop loss")
    ] = None,
    tp: Annotated[
        Decimal | None, typer.Option(parser=_number, metavar="PRICE", help="Take profit")
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Up to 64 characters")] = None,
    device_ids: Annotated[
        list[uuid.UUID] | None,
        typer.Option(
            "--device-id",
            metavar="UUID",
            help="A target device (repeat for several); default: every active device",
            show_default=False,
        ),
    ] = None,
    expires_in: Annotated[
        int | None, typer.Option(help="Seconds until the signal expires (server default 4 h)")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Repeating the command with the same key and fields sends nothing new"),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the Signal JSON as the server sent it (with --wait: the last)"
        ),
    ] = False,
    wait: Annotated[
        float | None,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="Follow the deliveries until each is placed, failed, expired or cancelled, "
            "or until SECONDS have passed",
        ),
    ] = None,
) -> None:
    """Send a signal to the owner's devices, and optionally follow its deliveries.

    Exit status: 0 when the signal was created (even if --wait ran out with deliveries still
    open), 1 when the server refused or could not be reached, 2 for a bad command line.
    """
    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise typer.BadParameter("must be an http:// or https:// URL", param_hint="--url")
    if (token is None) == (email is None):
        raise typer.BadParameter(
            "sign in with --email (or EAGATE_OWNER_EMAIL) and the password in "
            f"{PASSWORD_VARIABLE} (or typed when asked), or give --token (or EAGATE_TOKEN); "
            "not both",
            param_hint="'--email' / '--token'",
        )
    body = signal_body(
        {
            "instrument": instrument,
            "side": side.value,
            "order_type": order_type.value if order_type is not None else None,
            "volume": volume,
            "price": price,
            "sl": sl,
            "tp": tp,
            "comment": comment,
            "device_ids": [str(device_id) for device_id in device_ids] if device_ids else None,
            "expires_in_seconds": expires_in,
        }
    )
    out, err = _console(stderr=False), _console(stderr=True)
    api = OwnerApi(str(target))
    signal: dict[str, Any] = {}
    try:
        if token is not None:
            api.use_token(token)
        else:
            assert email is not None
            password = os.environ.get(PASSWORD_VARIABLE) or typer.prompt(
                f"Password for {email}", hide_input=True, err=True
            )
            api.sign_in(email, password)
        created = api.create_signal(body, idempotency_key)
        signal = json_of(created)
        raw = created.text
        if wait is None:
            if as_json:
                typer.echo(raw)
            else:
                out.print(describe(signal))
                out.print(deliveries_table(signal, _names(api)))
            return
        following = (
            f"following {len(signal['deliveries'])} deliveries for up to {wait:g} s "
            "(Ctrl-C stops following)"
        )
        if as_json:
            err.print(following)
            followed = follow(api, signal, raw, seconds=wait)
            if not followed.interrupted:
                typer.echo(followed.raw)
        else:
            out.print(describe(signal))
            names = _names(api)
            with Live(deliveries_table(signal, names), console=out, auto_refresh=False) as live:
                if not out.is_terminal:
                    err.print(following)  # no live table shows it
                followed = follow(
                    api,
                    signal,
                    raw,
                    seconds=wait,
                    show=lambda s, left: live.update(
                        deliveries_table(s, names, seconds_left=left), refresh=True
                    ),
                )
                live.update(deliveries_table(followed.signal, names), refresh=True)
        if followed.interrupted:
            err.print(f"stopped following signal {signal['id']}; it stays as it is")
            raise typer.Exit(130)
        if not followed.done:
            deliveries = followed.signal["deliveries"]
            still = sum(1 for d in deliveries if d["status"] not in FINAL_STATUSES)
            err.print(
                f"[yellow]{still} of {len(deliveries)} deliveries still open[/yellow] "
                f"after {wait:g} s"
            )
    except ApiError as error:
        if "id" in signal:  # failed while following: the signal itself is there
            error.details.append(f"signal {signal['id']} was created")
        err.print(Text.assemble(("error: ", "red"), error.message))
        for line in error.details:
            err.print(Text("  " + line))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        # Between the answer to the POST and the start of following (which handles its own).
        if "id" not in signal:
            raise
        err.print(f"stopped following signal {signal['id']}; it stays as it is")
        raise typer.Exit(130) from None
    finally:
        api.close()


@dataclass(frozen=True)
class Followed:
    raw: str  # the last Signal body, as the server sent it
    signal: dict[str, Any]  # the same, parsed
    done: bool  # every delivery is final
    interrupted: bool = False  # Ctrl-C


def follow(
    api: OwnerApi,
    signal: dict[str, Any],
    raw: str,
    *,
    seconds: float,
    show: Callable[[dict[str, Any], float], None] | None = None,
    interval: float = 0.5,
) -> Followed:
    """Poll GET /signals/{id} until every delivery is final, ``seconds`` have passed or the
    user presses Ctrl-C. A server out of reach for a moment is tried again."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            if all(d["status"] in FINAL_STATUSES for d in signal["deliveries"]):
                return Followed(raw, signal, done=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return Followed(raw, signal, done=False)
            if show is not None:
                show(signal, left)
            time.sleep(min(interval, left))
            try:
                response = api.get_signal(str(signal["id"]))
            except ApiError as error:
                if error.unreachable and time.monotonic() < deadline:
                    continue
                raise
            raw, signal = response.text, json_of(response)
    except KeyboardInterrupt:
        return Followed(raw, signal, done=False, interrupted=True)


def describe(signal: dict[str, Any]) -> Text:
    line = Text()
    line.append(f"signal {signal['id']}", style="bold")
    line.append(
        f": {str(signal['side']).upper()} {signal['order_type']} {signal['instrument']} "
        f"{signal['volume']}"
    )
    for name, prefix in (("price", "@ "), ("sl", "sl "), ("tp", "tp ")):
        if signal.get(name) is not None:
            line.append(f" {prefix}{signal[name]}")
    if signal.get("comment"):
        line.append(f" {signal['comment']!r}")
    line.append(f", expires {signal['expires_at']}")
    return line


def deliveries_table(
    signal: dict[str, Any], names: dict[str, str], *, seconds_left: float | None = None
) -> Group:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("device", no_wrap=True)  # ids are copied into the next command
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("ticket")
    table.add_column("error", overflow="fold")
    for delivery in signal["deliveries"]:
        device_id = str(delivery["device_id"])
        device = Text(device_id)
        if device_id in names:
            device = Text.assemble(names[device_id], " ", (device_id, "dim"))
        status = str(delivery["status"])
        table.add_row(
            device,
            Text(status, style=_STATUS_STYLE.get(status, "")),
            str(delivery["attempts"]),
            Text(delivery.get("broker_ticket") or ""),
            Text(delivery.get("error") or ""),
        )
    if seconds_left is None:
        return Group(table)
    return Group(table, Text(f"waiting for acks, {seconds_left:.0f} s left", style="dim"))


def _console(*, stderr: bool) -> Console:
    # soft_wrap: long ids and messages stay on one line, for the reader and for grep.
    console = Console(stderr=stderr, soft_wrap=True, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # piped: Rich would assume 80 columns and fold the table's ids
    return console


def _names(api: OwnerApi) -> dict[str, str]:
    """Device names for the table; without them, the table still shows ids."""
    try:
        return api.device_names()
    except (ApiError, ValueError, KeyError, TypeError):
        return {}
