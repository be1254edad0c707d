"""The ASGI application the server runs: one thin layer in front of FastAPI.

It gives every response its X-Request-Id and X-Server-Time, writes the one access-log line,
caps request bodies, turns anything unhandled into a problem+json 500, and hands the device
poll (the hot path) to ``PollHandler`` without going through FastAPI at all.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from eagate.accesslog import RequestIds
from eagate.api import API_PREFIX
from eagate.errors import PayloadTooLarge, ProblemError, internal_error_body, problem_response
from eagate.logs import begin_request
from eagate.state import AppState

log = logging.getLogger("eagate")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_for(incoming: bytes | None, ids: RequestIds) -> str:
    """The caller's X-Request-Id when it is a safe token (for tracing), else a new one."""
    if incoming:
        text = incoming.decode("latin-1")
        if _SAFE_REQUEST_ID.fullmatch(text):
            return text
    return ids.next()


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


# Request headers past this many bytes in all are refused (431). Signed device requests need
# well under 1 KiB; a proxy in front should enforce a limit too (uvicorn has none).
MAX_HEADER_BYTES = 16 * 1024


class HeadersTooLarge(ProblemError):
    status, code, title = 431, "headers_too_large", "Request headers too large"


class EagateApp:
    def __init__(self, fastapi: FastAPI, state: AppState) -> None:
        from eagate.device_api.poll import POLL_PATH, PollHandler

        self.fastapi = fastapi
        self.eagate = state
        self._poll_path = POLL_PATH
        self._poll = PollHandler(state)
        self._clock = state.clock
        self._access_log = state.access_log
        self._metrics = state.metrics
        self._request_ids = state.request_ids
        self._max_body_bytes = state.settings.max_body_bytes
        self._device_prefix = f"{API_PREFIX}/device/"

    @property
    def state(self) -> Any:
        return self.fastapi.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
        elif scope["path"] == self._poll_path:
            await self._poll(scope, receive, send)
        else:
            await self._handle(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = request_id_for(header(scope, b"x-request-id"), self._request_ids)
        context = begin_request(request_id)
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                        (b"x-server-time", str(int(self._clock.time())).encode()),
                    ],
                }
            await send(message)

        try:
            declared = header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self._max_body_bytes:
                await self._refuse(
                    scope, receive, send_with_headers, PayloadTooLarge(self._too_large)
                )
                return
            if sum(len(key) + len(value) for key, value in scope["headers"]) > MAX_HEADER_BYTES:
                await self._refuse(scope, receive, send_with_headers, HeadersTooLarge())
                return
            await self.fastapi(scope, self._capped(receive), send_with_headers)
        except Exception:
            # FastAPI has answered already (its handler for Exception) unless the failure came
            # before any response; either way the error is logged once, here or there.
            if status == 0:
                log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
                await problem_response(500, internal_error_body())(
                    scope, receive, send_with_headers
                )
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "<unmatched>"
            seconds = time.perf_counter() - started
            self._metrics.request(scope["method"], route_path, status or 500, seconds)
            self._access_log.write(
                request_id=request_id,
                method=scope["method"],
                route=route_path if route is not None else scope["path"],
                route_is_template=route is not None,
                status=status or 500,
                duration_ms=seconds * 1000,
                client_id=context.client_id,
                device_id=context.device_id,
            )

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: ProblemError
    ) -> None:
        body = error.body()
        if scope["path"].startswith(self._device_prefix):
            body["server_time"] = int(self._clock.time())  # SPEC 4: in every device-API body
        await problem_response(error.status, body, error.headers)(scope, receive, send)

    @property
    def _too_large(self) -> str:
        return f"request bodies are limited to {self._max_body_bytes} bytes"

    def _capped(self, receive: Receive) -> Receive:
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body_bytes:
                    # An HTTPException is the one error FastAPI lets out of body reading
                    # unchanged (anything else becomes a 400); rendered as 413 problem+json.
                    raise StarletteHTTPException(413, self._too_large)
            return message

        return capped_receive
