"""Pure ASGI middleware (cheap on the hot path): request id, server time, body cap, access log."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eagate.clock import Clock
from eagate.errors import PayloadTooLarge, render
from eagate.logs import begin_request

access_log = logging.getLogger("eagate.access")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Stamps every response with X-Request-Id and X-Server-Time and logs it as one JSON line."""

    def __init__(self, app: ASGIApp, *, clock: Clock, max_body_bytes: int) -> None:
        self.app = app
        self.clock = clock
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        context = begin_request(request_id)
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-server-time", str(int(self.clock.time())).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await render(PayloadTooLarge(self._too_large_detail))(
                    scope, receive, send_with_headers
                )
                return
            await self.app(scope, self._capped(receive), send_with_headers)
        finally:
            route = scope.get("route")
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": getattr(route, "path", None) or scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client_id": context.client_id,
                        "device_id": context.device_id,
                        **context.extra,
                    }
                },
            )

    @property
    def _too_large_detail(self) -> str:
        return f"request bodies are limited to {self.max_body_bytes} bytes"

    def _capped(self, receive: Receive) -> Receive:
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLarge(self._too_large_detail)
            return message

        return capped_receive


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
