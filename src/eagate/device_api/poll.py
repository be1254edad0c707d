"""The device poll, served in plain ASGI.

``GET /api/v1/device/poll`` is the product's hot path: every terminal calls it every few
seconds, forever. FastAPI's per-request machinery (dependency solving, validation,
serialization) costs several times what the whole answer needs, so ``create_app`` hands this
handler to the ASGI edge as a raw route; it answers through the same DeviceAuthenticator and
delivery code as the rest of the device API, and the edge gives it the same caps, request id,
access log and metrics as every other route. An idle device (nothing deliverable, known from
memory) is answered without touching the database. The route is declared, for the OpenAPI
document, beside ``/me`` and ``/ack`` in ``device_api.router``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from eagate.device_api.activity import ActivityRecorder
from eagate.device_api.auth import DeviceAuthenticator
from eagate.device_api.schemas import DeviceSignal
from eagate.http.edge import BodyTooLarge
from eagate.http.paths import DEVICE_API_PREFIX
from eagate.http.problems import Problems
from eagate.kit.clock import Clock
from eagate.kit.db import DatabaseBusy
from eagate.kit.logs import bind_actor
from eagate.kit.problems import (
    DatabaseBusyProblem,
    MethodNotAllowed,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
)
from eagate.signals import delivery
from eagate.signals.delivery import Delivered, DeliveryClaimer, DeliveryHub
from eagate.signals.service import signal_fields

log = logging.getLogger("eagate.device_api")

POLL_PATH = f"{DEVICE_API_PREFIX}poll"

_JSON = b"application/json"


def _query_int(name: str, raw: str, low: int, high: int) -> int:
    if not raw.isdigit() or len(raw) > 6:
        raise _invalid(name, "Input should be a valid integer")
    value = int(raw)
    if value < low:
        raise _invalid(name, f"Input should be greater than or equal to {low}")
    if value > high:
        raise _invalid(name, f"Input should be less than or equal to {high}")
    return value


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"query.{name}: {message}", errors=[{"field": f"query.{name}", "message": message}]
    )


def parse_poll_query(query: bytes) -> tuple[int, int]:
    """``wait`` (0-30, default 0) and ``limit`` (1-100, default 20); other keys are ignored,
    as FastAPI would."""
    wait, limit = 0, 20
    if query:
        for pair in query.decode("latin-1").split("&"):
            name, _, value = pair.partition("=")
            if name == "wait":
                wait = _query_int("wait", value, 0, 30)
            elif name == "limit":
                limit = _query_int("limit", value, 1, 100)
    return wait, limit


def device_signal(item: Delivered) -> dict[str, Any]:
    return DeviceSignal(
        signal_id=item.signal.id, attempt=item.attempt, **signal_fields(item.signal)
    ).model_dump(mode="json")


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


class TooManyLongPolls(ProblemError):
    status, code, title = 429, "too_many_long_polls", "Too many long-polls for this device"


class PollHandler:
    """``GET /api/v1/device/poll``, answered in plain ASGI behind the edge."""

    def __init__(
        self,
        *,
        auth: DeviceAuthenticator,
        claimer: DeliveryClaimer,
        hub: DeliveryHub,
        activity: ActivityRecorder,
        clock: Clock,
        problems: Problems,
        next_poll_seconds: int,
        long_polls_per_device: int,
    ) -> None:
        self.auth = auth
        self.claimer = claimer
        self.hub = hub
        self.activity = activity
        self.clock = clock
        self.problems = problems
        self.next_poll_seconds = next_poll_seconds
        # Open long-polls per device, in this process: the cap protects this instance's
        # memory and connections, so it is counted where they are spent.
        self.long_polls_per_device = long_polls_per_device
        self._long_polls: dict[uuid.UUID, int] = {}

    def _enter_long_poll(self, device_id: uuid.UUID) -> bool:
        open_now = self._long_polls.get(device_id, 0)
        if open_now >= self.long_polls_per_device:
            return False
        self._long_polls[device_id] = open_now + 1
        return True

    def _exit_long_poll(self, device_id: uuid.UUID) -> None:
        remaining = self._long_polls.pop(device_id, 1) - 1
        if remaining > 0:
            self._long_polls[device_id] = remaining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        has_body = False
        for key, value in scope["headers"]:
            if key == b"content-length" or key == b"transfer-encoding":
                has_body = value != b"0"
        headers: list[tuple[bytes, bytes]]
        try:
            if scope["method"] != "GET":
                raise MethodNotAllowed(headers={"Allow": "GET"})
            body = await self._read_body(receive) if has_body else b""
            device = await self.auth.authenticate_scope(scope, body)
            bind_actor(device_id=device.key_prefix)
            device_id = device.id
            now = self.clock.time()
            self.activity.record(device_id, now, poll=True)
            wait, limit = parse_poll_query(scope["query_string"])
            if wait == 0 and self.hub.idle_until(device_id) > now:
                signals: list[dict[str, Any]] = []
            else:
                signals = await self._signals(device_id, wait, limit, receive)
            status = 200
            server_time = int(self.clock.time()) if signals or wait else int(now)
            payload = orjson.dumps(
                {
                    "signals": signals,
                    "server_time": server_time,
                    "next_poll_seconds": self.next_poll_seconds,
                }
            )
            headers = [(b"content-type", _JSON)]
        except ProblemError as problem:
            status, server_time = problem.status, int(self.clock.time())
            payload, headers = self.problems.of_error(POLL_PATH, problem, server_time=server_time)
        except asyncio.CancelledError:
            # The server is stopping with this long-poll open: the device will poll again.
            raise
        except Exception:
            log.exception("device poll failed")
            status, server_time = 500, int(self.clock.time())
            payload, headers = self.problems.of_internal_error(POLL_PATH, server_time=server_time)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *headers,
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-server-time", str(server_time).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _signals(
        self, device_id: uuid.UUID, wait: int, limit: int, receive: Receive
    ) -> list[dict[str, Any]]:
        if wait and not self._enter_long_poll(device_id):
            raise TooManyLongPolls(
                f"at most {self.long_polls_per_device} long-polls per device at once",
                headers={"Retry-After": "1"},
            )
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, gone)) if wait else None
        try:
            delivered = await delivery.poll(
                claimer=self.claimer,
                hub=self.hub,
                clock=self.clock,
                device_id=device_id,
                wait=wait,
                limit=limit,
                gone=gone if wait else None,
            )
        except DatabaseBusy as busy:
            raise DatabaseBusyProblem(str(busy)) from None
        finally:
            if watcher is not None:
                watcher.cancel()
                self._exit_long_poll(device_id)
        return [device_signal(item) for item in delivered]

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        while True:
            try:
                message: Message = await receive()  # capped by the edge
            except BodyTooLarge as too_large:
                raise PayloadTooLarge(too_large.detail) from None
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
