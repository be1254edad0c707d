"""The physical limit: an ASGI app that answers a fixed JSON body, nothing else."""

from __future__ import annotations

from typing import Any

BODY = b'{"signals":[],"server_time":1800000000,"next_poll_seconds":5}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
