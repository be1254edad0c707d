"""The access log: one JSON line per request, cheap enough for the device poll path.

The standard logging module costs several microseconds per record, a sizeable share of a
signed poll. Access lines are rendered with orjson and written in batches (at most
``flush_interval`` late, and always at shutdown). Other log messages use ``logging``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from typing import Any, TextIO

import orjson


class RequestIds:
    """Unique, short request ids: a random per-process prefix and a counter (no syscall)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


class AccessLog:
    def __init__(
        self,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        flush_interval: float = 0.2,
        max_buffered: int = 512,
    ) -> None:
        self.enabled = enabled
        self._stream = stream
        self._flush_interval = flush_interval
        self._max_buffered = max_buffered
        self._lines: list[bytes] = []
        self._second = -1
        self._stamp = ""

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((now - second) * 1000):03d}Z"

    def write(self, fields: dict[str, Any]) -> None:
        if not self.enabled:
            return
        now = time.time()
        line = {
            "ts": self._timestamp(now),
            "level": "info",
            "logger": "eagate.access",
            "msg": "request",
            **fields,
        }
        self._lines.append(orjson.dumps(line, default=str))
        if len(self._lines) >= self._max_buffered:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self._stream or sys.stderr
        stream.write(b"\n".join(lines).decode() + "\n")
        stream.flush()

    async def run(self) -> None:
        """Background task: flush every interval until cancelled."""
        try:
            while True:
                await asyncio.sleep(self._flush_interval)
                self.flush()
        finally:
            self.flush()
