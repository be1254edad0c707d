"""Domain errors carry their HTTP status and stable code; ``eagate.http.problems`` renders them.

Framework-free, so services raise them without knowing about HTTP."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """An RFC 9457 problem: status, stable snake_case code, human title and detail."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    headers: dict[str, str]

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {
            "type": f"https://eagate.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


def internal_error_body() -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": "Internal server error",
        "status": 500,
        "detail": "The server failed to handle this request; it has been logged.",
        "code": "internal_error",
    }


class MalformedJson(ProblemError):
    status, code, title = 400, "malformed_json", "Malformed JSON body"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class NotAuthenticated(ProblemError):
    status, code, title = 401, "not_authenticated", "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ValidationFailed(ProblemError):
    status, code, title = 422, "validation_error", "Request validation failed"


class MethodNotAllowed(ProblemError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class DatabaseBusyProblem(ProblemError):
    status, code, title = 503, "database_busy", "The database is busy; retry shortly"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": "1"}, **extra)


class HeadersTooLarge(ProblemError):
    status, code, title = 431, "headers_too_large", "Request headers too large"
