"""The access log: one JSON line per request, cheap enough for the device poll path.

The standard logging module costs several microseconds per record, a sizeable share of a
signed poll. Access lines are rendered with orjson and written in batches (at most
``flush_interval`` late, and always at shutdown). Other log messages use ``logging``.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from typing import TextIO

import orjson


def _json_id(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


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
        self.flush_interval = flush_interval
        self._max_buffered = max_buffered
        self._lines: list[str] = []
        self._routes: dict[str, str] = {}
        self._second = -1
        self._millisecond = -1
        self._stamp = ""
        self._ms_stamp = ""

    def _timestamp(self, now: float) -> str:
        millisecond = int(now * 1000)
        if millisecond != self._millisecond:  # at load, many lines share one millisecond
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._ms_stamp = f"{self._stamp}.{fraction:03d}Z"
        return self._ms_stamp

    def write(
        self,
        *,
        request_id: str,
        method: str,
        route: str,
        status: int,
        duration_ms: float,
        client_id: str | None = None,
        device_id: str | None = None,
        route_is_template: bool = True,
    ) -> None:
        """Log one request.

        Rendered by hand, not by a JSON encoder: it runs for every poll. Only ``route`` can
        hold arbitrary characters (an unmatched path), so it alone is JSON-escaped; request
        ids are checked against a safe pattern or generated, ids are UUIDs, and methods are
        HTTP tokens (no quote or backslash).
        """
        if not self.enabled:
            return
        route_json = self._routes.get(route)
        if route_json is None:
            route_json = orjson.dumps(route).decode()
            if route_is_template and len(self._routes) < 1024:  # never an unmatched path
                self._routes[route] = route_json
        self._lines.append(
            f'{{"ts":"{self._timestamp(time.time())}","level":"info","logger":"eagate.access",'
            f'"msg":"request","request_id":"{request_id}","method":"{method}",'
            f'"route":{route_json},"status":{status},"duration_ms":{duration_ms:.2f},'
            f'"client_id":{_json_id(client_id)},"device_id":{_json_id(device_id)}}}'
        )
        if len(self._lines) >= self._max_buffered:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self._stream or sys.stderr
        stream.write("\n".join(lines) + "\n")
        stream.flush()
