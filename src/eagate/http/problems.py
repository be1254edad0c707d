"""The one renderer of problem+json answers (RFC 9457).

Every error the API answers goes through ``Problems``: FastAPI's exception handlers, the ASGI
edge's refusals (oversized headers or body, a failure before any response) and the raw device
poll. Device-API bodies carry ``server_time`` (SPEC 4), added here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from eagate.http.paths import DEVICE_API_PREFIX
from eagate.kit.clock import Clock
from eagate.kit.db import DatabaseBusy
from eagate.kit.problems import (
    PROBLEM_JSON,
    DatabaseBusyProblem,
    MalformedJson,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
    internal_error_body,
)

log = logging.getLogger("eagate")

Headers = list[tuple[bytes, bytes]]
_PROBLEM = PROBLEM_JSON.encode()


class Problems:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def encode(
        self,
        path: str,
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str] | None,
        *,
        server_time: int | None = None,
    ) -> tuple[bytes, Headers]:
        """The body's bytes and the response headers (content type first). ``server_time``:
        the second a raw route also sends in X-Server-Time, so the two agree."""
        if path.startswith(DEVICE_API_PREFIX):
            body.setdefault("server_time", server_time or int(self._clock.time()))
        raw_headers: Headers = [(b"content-type", _PROBLEM)]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        return orjson.dumps(body), raw_headers

    def of_error(
        self, path: str, error: ProblemError, *, server_time: int | None = None
    ) -> tuple[bytes, Headers]:
        return self.encode(path, error.status, error.body(), error.headers, server_time=server_time)

    def of_internal_error(
        self, path: str, *, server_time: int | None = None
    ) -> tuple[bytes, Headers]:
        return self.encode(path, 500, internal_error_body(), None, server_time=server_time)

    def response(
        self,
        path: str,
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        payload, raw_headers = self.encode(path, status, body, headers)
        response = Response(payload, status_code=status)
        response.raw_headers = [
            (b"content-length", str(len(payload)).encode()),
            *raw_headers,
        ]
        return response

    def error_response(self, path: str, error: ProblemError) -> Response:
        return self.response(path, error.status, error.body(), error.headers)

    def install(self, app: FastAPI) -> None:
        """FastAPI's exception handlers, all answering through this renderer."""

        async def on_problem(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, ProblemError)
            return self.error_response(request.url.path, exc)

        async def on_validation(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, RequestValidationError)
            errors = exc.errors()
            if any(error.get("type") == "json_invalid" for error in errors):
                return await on_problem(
                    request, MalformedJson("the request body is not valid JSON")
                )
            # Messages only, never the offending input: it may be a password.
            field_errors = [
                {
                    "field": ".".join(str(part) for part in error["loc"]),
                    "message": str(error["msg"]).removeprefix("Value error, "),
                }
                for error in errors
            ]
            return await on_problem(
                request, ValidationFailed(_summary(field_errors), errors=field_errors)
            )

        async def on_http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
                # FastAPI's answer to a JSON body that is not UTF-8.
                return await on_problem(
                    request, MalformedJson("the request body is not UTF-8 JSON")
                )
            if exc.status_code == 413:
                return await on_problem(request, PayloadTooLarge(str(exc.detail)))
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            body: dict[str, Any] = {
                "type": "about:blank",
                "title": str(exc.detail),
                "status": exc.status_code,
                "detail": str(exc.detail),
                "code": code,
            }
            return self.response(request.url.path, exc.status_code, body, exc.headers)

        async def on_database_busy(request: Request, exc: Exception) -> Response:
            return await on_problem(request, DatabaseBusyProblem(str(exc)))

        async def on_unexpected(request: Request, exc: Exception) -> Response:
            log.exception("unhandled error", exc_info=exc)
            return self.response(request.url.path, 500, internal_error_body())

        app.add_exception_handler(ProblemError, on_problem)
        app.add_exception_handler(RequestValidationError, on_validation)
        app.add_exception_handler(StarletteHTTPException, on_http_error)
        app.add_exception_handler(DatabaseBusy, on_database_busy)
        app.add_exception_handler(Exception, on_unexpected)


def _summary(field_errors: list[dict[str, str]]) -> str:
    first = field_errors[0] if field_errors else {"field": "request", "message": "invalid"}
    more = f" (and {len(field_errors) - 1} more)" if len(field_errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"
