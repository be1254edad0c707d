"""The ASGI application the server runs: the one edge every request passes.

It refuses oversized headers (431) and bodies (413), gives every response its X-Request-Id and
X-Server-Time, writes the one access-log line and the request metrics, and turns anything
unhandled into a problem+json 500. Behind it, FastAPI serves the API, except for raw routes:
ASGI handlers for paths so hot that FastAPI's per-request machinery would cost more than the
answer (the device poll), handed in by ``create_app`` at start-up.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eagate.http.problems import Problems
from eagate.kit.accesslog import AccessLog, RequestIds
from eagate.kit.clock import Clock
from eagate.kit.logs import begin_request
from eagate.kit.metrics import Metrics
from eagate.kit.problems import HeadersTooLarge, PayloadTooLarge, ProblemError

log = logging.getLogger("eagate")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

# Request headers past this many bytes in all are refused (431). Signed device requests need
# well under 1 KiB; a proxy in front should enforce a limit too (uvicorn has none).
MAX_HEADER_BYTES = 16 * 1024


def request_id_for(incoming: bytes | None, ids: RequestIds) -> str:
    """The caller's X-Request-Id when it is a safe token (for tracing), else a new one."""
    if incoming:
        text = incoming.decode("latin-1")
        if _SAFE_REQUEST_ID.fullmatch(text):
            return text
    return ids.next()


class BodyTooLarge(StarletteHTTPException):
    """Raised by the capped ``receive`` past the body limit. An HTTPException is the one error
    FastAPI lets out of body reading unchanged (anything else becomes a 400); it is rendered
    as 413 payload_too_large."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")


class Edge:
    def __init__(
        self,
        fastapi: FastAPI,
        *,
        clock: Clock,
        problems: Problems,
        access_log: AccessLog,
        metrics: Metrics,
        request_ids: RequestIds,
        max_body_bytes: int,
        raw_routes: dict[str, ASGIApp] | None = None,
    ) -> None:
        self.fastapi = fastapi
        self._clock = clock
        self._problems = problems
        self._access_log = access_log
        self._metrics = metrics
        self._request_ids = request_ids
        self._max_body_bytes = max_body_bytes
        # Raw routes answer with their own X-Server-Time (the same second as their body's).
        self._raw_routes = dict(raw_routes or {})

    @property
    def state(self) -> Any:
        return self.fastapi.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        raw_route = self._raw_routes.get(path)
        incoming_id = None
        declared_length = None
        header_bytes = 0
        for key, value in scope["headers"]:
            header_bytes += len(key) + len(value)
            if key == b"x-request-id":
                incoming_id = value
            elif key == b"content-length":
                declared_length = value
        request_id = request_id_for(incoming_id, self._request_ids)
        context = begin_request(request_id)
        status = 0
        stamp_time = raw_route is None

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                if stamp_time:
                    headers.append((b"x-server-time", str(int(self._clock.time())).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if header_bytes > MAX_HEADER_BYTES:
                stamp_time = True
                await self._refuse(path, send_with_headers, HeadersTooLarge())
            elif (
                declared_length is not None
                and declared_length.isdigit()
                and int(declared_length) > self._max_body_bytes
            ):
                stamp_time = True
                error = PayloadTooLarge(BodyTooLarge(self._max_body_bytes).detail)
                await self._refuse(path, send_with_headers, error)
            elif raw_route is not None:
                await raw_route(scope, self._capped(receive), send_with_headers)
            else:
                await self.fastapi(scope, self._capped(receive), send_with_headers)
        except Exception:
            # FastAPI has answered already (its handler for Exception) unless the failure came
            # before any response; either way the error is logged once, here or there.
            if status == 0:
                log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
                stamp_time = True
                payload, headers = self._problems.of_internal_error(path)
                await self._answer(send_with_headers, 500, payload, headers)
        finally:
            route = scope.get("route")
            if raw_route is not None:
                route_path, is_template = path, True
            elif route is not None:
                route_path, is_template = route.path, True
            else:
                route_path, is_template = path, False
            seconds = time.perf_counter() - started
            self._metrics.request(
                scope["method"],
                route_path if is_template else "<unmatched>",
                status or 500,
                seconds,
            )
            self._access_log.write(
                request_id=request_id,
                method=scope["method"],
                route=route_path,
                route_is_template=is_template,
                status=status or 500,
                duration_ms=seconds * 1000,
                client_id=context.client_id,
                device_id=context.device_id,
            )

    async def _refuse(self, path: str, send: Send, error: ProblemError) -> None:
        payload, headers = self._problems.of_error(path, error)
        await self._answer(send, error.status, payload, headers)

    @staticmethod
    async def _answer(
        send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(payload)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _capped(self, receive: Receive) -> Receive:
        received = 0
        limit = self._max_body_bytes

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped_receive
