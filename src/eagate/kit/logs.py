"""Structured JSON logs: one line per request, carrying the request id and the actor."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass
class RequestContext:
    request_id: str
    client_id: str | None = None
    device_id: str | None = None


_request: ContextVar[RequestContext | None] = ContextVar("eagate_request", default=None)


def begin_request(request_id: str) -> RequestContext:
    context = RequestContext(request_id=request_id)
    _request.set(context)
    return context


def bind_actor(
    *, client_id: uuid.UUID | None = None, device_id: uuid.UUID | str | None = None
) -> None:
    """Name who made the current request, for its log line."""
    context = _request.get()
    if context is None:
        return
    if client_id is not None:
        context.client_id = str(client_id)
    if device_id is not None:
        context.device_id = str(device_id)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        elif (context := _request.get()) is not None:
            entry["request_id"] = context.request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for our loggers and uvicorn's error log; access log off (ours)."""
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
