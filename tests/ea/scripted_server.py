"""A scripted stand-in for eagate's device API, for answers a real server gives rarely or never
on demand (429 with Retry-After, 5xx, a dropped connection, replayed_nonce, an expired signal).

Each route answers from its own queue of scripted answers, then with its default; every request
is recorded with the time it arrived. It does not check signatures: the EA's signing is proven
against the real server elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

ME = {"device_id": "", "device_name": "Scripted", "client_id": "", "server_time": 0}


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


def problem(status: int, code: str, **headers: str) -> Answer:
    body = {"type": "about:blank", "title": code, "status": status, "detail": code, "code": code}
    return Answer(status, {**body, "server_time": int(time.time())}, dict(headers))


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def route(self) -> str:
        return self.target.split("?")[0].rsplit("/", 1)[-1]

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.scripts: dict[str, deque[Answer]] = {"me": deque(), "poll": deque(), "ack": deque()}
        self._server: asyncio.Server | None = None
        self.url = ""

    def script(self, route: str, *answers: Answer) -> None:
        self.scripts[route].extend(answers)

    def of(self, route: str) -> list[Request]:
        return [r for r in self.requests if r.route == route]

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def _default(self, route: str, request: Request) -> Answer:
        now = int(time.time())
        if route == "me":
            return Answer(body={**ME, "device_id": request.headers.get("x-device-id", "")})
        if route == "poll":
            return Answer(body={"signals": [], "server_time": now, "next_poll_seconds": 5})
        payload = request.json()
        return Answer(
            body={
                "signal_id": payload["signal_id"],
                "status": payload["status"],
                "broker_ticket": payload.get("broker_ticket"),
                "error": payload.get("error"),
                "recorded_at": "2026-11-29T10:00:00Z",
            }
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode().split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, target, headers, body, time.monotonic())
            self.requests.append(request)
            queue = self.scripts.get(request.route, deque())
            answer = queue.popleft() if queue else self._default(request.route, request)
            if answer.drop:
                return
            payload = json.dumps(answer.body or {}).encode()
            kind = "application/json" if answer.status < 400 else "application/problem+json"
            response = [
                f"HTTP/1.1 {answer.status} Scripted",
                f"Content-Type: {kind}",
                f"Content-Length: {len(payload)}",
                f"X-Server-Time: {int(time.time())}",
                "Connection: close",
                *(f"{name}: {value}" for name, value in answer.headers.items()),
            ]
            writer.write(("\r\n".join(response) + "\r\n\r\n").encode() + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
