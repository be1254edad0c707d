"""The device poll, served in plain ASGI.

``GET /api/v1/device/poll`` is the product's hot path: every terminal calls it every few
seconds, forever. FastAPI's per-request machinery (dependency solving, validation,
serialization) costs several times what the whole answer needs, so ``EagateApp`` hands it to this
handler, which answers it, through the same DeviceAuthenticator and delivery code as the rest of
the device API. An idle device (nothing deliverable, known from memory) is answered without
touching the database. The route is documented in the OpenAPI document like any other
(see ``device_api.openapi``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from eagate.api import API_PREFIX
from eagate.asgi import MAX_HEADER_BYTES, HeadersTooLarge, request_id_for
from eagate.db import DatabaseBusy
from eagate.device_api.auth import AuthenticatedDevice
from eagate.device_api.schemas import DeviceSignal
from eagate.errors import (
    PROBLEM_JSON,
    DatabaseBusyProblem,
    MethodNotAllowed,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
    internal_error_body,
)
from eagate.signals import delivery
from eagate.signals.delivery import Delivered
from eagate.signals.service import signal_fields
from eagate.state import AppState

log = logging.getLogger("eagate.device_api")

POLL_PATH = f"{API_PREFIX}/device/poll"

_JSON = b"application/json"
_PROBLEM = PROBLEM_JSON.encode()


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
    """``GET /api/v1/device/poll``, answered in plain ASGI."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.auth = state.device_auth
        self.hub = state.deliveries
        self.activity = state.activity
        self.clock = state.clock
        self.access_log = state.access_log
        self.metrics = state.metrics
        self.request_ids = state.request_ids
        self.max_body_bytes = state.settings.max_body_bytes
        self.next_poll_seconds = state.settings.next_poll_seconds
        # Open long-polls per device, in this process: the cap protects this instance's
        # memory and connections, so it is counted where they are spent.
        self.long_polls_per_device = state.settings.long_polls_per_device
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
        started = time.perf_counter()
        has_body = False
        incoming_id = None
        header_bytes = 0
        for key, value in scope["headers"]:
            header_bytes += len(key) + len(value)
            if key == b"x-request-id":
                incoming_id = value
            elif key == b"content-length" or key == b"transfer-encoding":
                has_body = value != b"0"
        request_id = request_id_for(incoming_id, self.request_ids)
        device: AuthenticatedDevice | None = None
        content_type = _JSON
        extra_headers: list[tuple[bytes, bytes]] = []
        try:
            if header_bytes > MAX_HEADER_BYTES:
                raise HeadersTooLarge()
            if scope["method"] != "GET":
                raise MethodNotAllowed(headers={"Allow": "GET"})
            body = await self._read_body(receive) if has_body else b""
            query: bytes = scope["query_string"]
            raw_path: bytes = scope.get("raw_path") or POLL_PATH.encode()
            device = await self.auth.authenticate(
                method="GET",
                target=(raw_path + b"?" + query if query else raw_path).decode("latin-1"),
                headers=scope["headers"],  # the signing ones read by the authenticator
                body=body,
                ip=client[0] if (client := scope.get("client")) else None,
            )
            device_id = device.id
            now = self.clock.time()
            self.activity.record(device_id, now, poll=True)
            wait, limit = parse_poll_query(query)
            if wait == 0 and self.hub.idle_until(device_id) > now:
                signals: list[dict[str, Any]] = []
            else:
                if wait and not self._enter_long_poll(device_id):
                    raise TooManyLongPolls(
                        f"at most {self.long_polls_per_device} long-polls per device at once",
                        headers={"Retry-After": "1"},
                    )
                gone = asyncio.Event()
                watcher = asyncio.ensure_future(_watch_disconnect(receive, gone)) if wait else None
                try:
                    delivered = await delivery.poll(
                        claimer=self.state.claimer,
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
                signals = [device_signal(item) for item in delivered]
            status = 200
            server_time = int(self.clock.time()) if signals or wait else int(now)
            payload = orjson.dumps(
                {
                    "signals": signals,
                    "server_time": server_time,
                    "next_poll_seconds": self.next_poll_seconds,
                }
            )
        except ProblemError as problem:
            status, content_type = problem.status, _PROBLEM
            server_time = int(self.clock.time())
            payload = orjson.dumps({"server_time": server_time, **problem.body()})
            extra_headers = [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
        except asyncio.CancelledError:
            # The server is stopping with this long-poll open: the device will poll again.
            raise
        except Exception:
            log.exception("device poll failed", extra={"fields": {"request_id": request_id}})
            status, content_type = 500, _PROBLEM
            payload = orjson.dumps({**internal_error_body(), "server_time": int(self.clock.time())})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"x-server-time", str(server_time).encode()),
                    *extra_headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        seconds = time.perf_counter() - started
        self.metrics.request(scope["method"], POLL_PATH, status, seconds)
        self.access_log.write(
            request_id=request_id,
            method=scope["method"],
            route=POLL_PATH,
            status=status,
            duration_ms=seconds * 1000,
            device_id=device.key_prefix if device is not None else None,
        )

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"request bodies are limited to {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
