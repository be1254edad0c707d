"""OpenAPI helpers: every documented error is an RFC 9457 problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from eagate.http.paths import DEVICE_API_PREFIX
from eagate.kit.problems import PROBLEM_JSON


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details with a stable `code`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable snake_case error code")
    errors: list[FieldError] | None = None
    server_time: int | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Validation error",
    429: "Too many requests",
    503: "Temporarily unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    """An operation's id is its route function's name, a verb saying what it does
    (`register_device`): code generators make it the client's function name. FastAPI's default
    appends the path and method (`register_device_api_v1_devices_post`)."""
    return route.name


def install_document(app: FastAPI) -> None:
    """The app's OpenAPI document, built once, with the device API's security as it is."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        # FastAPI lists each signing header as an alternative requirement; a device must send
        # all four, which OpenAPI says as one requirement naming them together.
        for path, operations in schema["paths"].items():
            if path.startswith(DEVICE_API_PREFIX):
                for operation in operations.values():
                    merged: dict[str, list[str]] = {}
                    for requirement in operation.get("security", []):
                        merged.update(requirement)
                    if merged:
                        operation["security"] = [merged]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
