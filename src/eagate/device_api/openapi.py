"""Documents the poll route, served in front of FastAPI, in the app's OpenAPI document.

The route is answered by ``PollHandler`` in front of FastAPI, so FastAPI cannot describe it; this
adds it, from the same pydantic models, beside the device routes FastAPI does describe.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from eagate.api import API_PREFIX
from eagate.device_api.poll import POLL_PATH
from eagate.device_api.schemas import PollResult

_REF = "#/components/schemas/{model}"
ME_PATH = f"{API_PREFIX}/device/me"
DEVICE_PREFIX = f"{API_PREFIX}/device/"


def _poll_operation(me: dict[str, Any]) -> dict[str, Any]:
    responses = copy.deepcopy(me.get("responses", {}))
    responses["200"] = {
        "description": "Signals for this device (possibly none)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PollResult"}}},
    }
    responses["422"] = responses.get("422") or copy.deepcopy(responses["401"])
    responses["422"]["description"] = "Validation error"
    return {
        "tags": me.get("tags", []),
        "summary": "Poll",
        "description": (
            "Signals waiting for this device, oldest first; with `wait`, hold until one arrives."
        ),
        "operationId": "poll_api_v1_device_poll_get",
        "security": copy.deepcopy(me.get("security", [])),
        "parameters": [
            {
                "name": "wait",
                "in": "query",
                "required": False,
                "description": "Long-poll up to this many seconds",
                "schema": {"type": "integer", "minimum": 0, "maximum": 30, "default": 0},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "At most this many signals",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
        ],
        "responses": responses,
    }


def document_poll_route(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        poll_schema = PollResult.model_json_schema(ref_template=_REF, mode="serialization")
        for name, definition in poll_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["PollResult"] = poll_schema
        schema["paths"][POLL_PATH] = {"get": _poll_operation(schema["paths"][ME_PATH]["get"])}
        # FastAPI lists each signing header as an alternative requirement; a device must send
        # all four, which OpenAPI says as one requirement naming them together.
        for path, operations in schema["paths"].items():
            if path.startswith(DEVICE_PREFIX):
                for operation in operations.values():
                    merged: dict[str, list[str]] = {}
                    for requirement in operation.get("security", []):
                        merged.update(requirement)
                    if merged:
                        operation["security"] = [merged]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
