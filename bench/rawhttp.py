"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for thousands of connections.

The benchmarks hold hundreds to tens of thousands of connections open, each with one request
in flight, and must not be the bottleneck themselves: requests are bytes built in advance
(signed with the device's secret), responses are parsed just enough (status, headers, body by
Content-Length). It speaks only to our own server, which always sends Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from eagate.kit.signing import signed_headers


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default=0.0)  # time.perf_counter() when the body was read

    def json(self) -> Any:
        return orjson.loads(self.body)


class ProtocolError(Exception):
    pass


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        async with asyncio.timeout(30):
            reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def send(self, request: bytes) -> None:
        self.writer.write(request)

    async def read_response(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if "content-length" not in headers:
            raise ProtocolError("response without Content-Length")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return Response(int(parts[1]), headers, body, time.perf_counter())

    async def request(self, request: bytes) -> Response:
        self.send(request)
        return await self.read_response()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def build_request(
    method: str,
    target: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def signed_request(
    *,
    device_id: str,
    secret: str,
    method: str,
    target: str,
    host: str,
    body: bytes = b"",
    timestamp: int | None = None,
    request_id: str | None = None,
) -> bytes:
    """A device request signed per SPEC 4 (a fresh nonce each call)."""
    headers = signed_headers(
        secret=secret,
        device_id=device_id,
        method=method,
        path_and_query=target,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    if body:
        headers["Content-Type"] = "application/json"
    if request_id:
        headers["X-Request-Id"] = request_id
    return build_request(method, target, host=host, headers=headers, body=body)


def json_request(
    method: str,
    target: str,
    *,
    host: str,
    token: str,
    payload: Any = None,
    request_id: str | None = None,
) -> bytes:
    """An owner request with a bearer token and an optional JSON body."""
    headers = {"Authorization": f"Bearer {token}"}
    body = b""
    if payload is not None:
        body = orjson.dumps(payload)
        headers["Content-Type"] = "application/json"
    if request_id:
        headers["X-Request-Id"] = request_id
    return build_request(method, target, host=host, headers=headers, body=body)


async def open_many(
    host: str, port: int, count: int, *, batch: int = 500
) -> tuple[list[Connection], list[str]]:
    """Up to ``count`` connections, opened ``batch`` at a time (the listen backlog is finite),
    and the errors of those that failed."""
    connections: list[Connection] = []
    errors: list[str] = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        opened = await asyncio.gather(
            *(Connection.open(host, port) for _ in range(size)), return_exceptions=True
        )
        for item in opened:
            if isinstance(item, Connection):
                connections.append(item)
            else:
                errors.append(f"{type(item).__name__}: {item}")
    return connections, errors
