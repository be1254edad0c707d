"""The OpenAPI document is read by code generators (STYLE 11): an operation id becomes a
client's function name and a component schema its class name, so both are named for what they
are. FastAPI's defaults (``sign_up_api_v1_auth_signup_post``, ``Body_issue_token_...``) and
internal suffixes (``DeviceOut``) fail here, for every endpoint added later too."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.fixtures.openapi import build_document, operations

# FastAPI's default id: the function's name + the path + the method.
DEFAULT_ID_SUFFIXES = ("_get", "_put", "_post", "_patch", "_delete")
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
PASCAL_CASE = re.compile(r"[A-Z][A-Za-z0-9]*")
# An id says what the operation does, so it starts with a verb. A new endpoint whose verb is
# not here: add the verb (not a noun, not the path).
VERBS = frozenset(
    {
        "acknowledge",
        "cancel",
        "change",
        "check",
        "create",
        "delete",
        "get",
        "issue",
        "list",
        "log",
        "poll",
        "register",
        "rename",
        "revoke",
        "rotate",
        "scrape",
        "sign",
    }
)
# Names a generated client already uses in the modules that import the models: a schema named
# `Client` shadows openapi-python-client's HTTP `Client` there (hence `Owner` for the account).
GENERATOR_NAMES = frozenset({"AuthenticatedClient", "Client", "File", "Response", "Unset"})


def operation_id_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    ids: Counter[str] = Counter()
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        operation_id = operation.get("operationId")
        if not operation_id:
            problems.append(f"{where}: no operationId")
            continue
        ids[operation_id] += 1
        if "_api_v1_" in operation_id or operation_id.endswith(DEFAULT_ID_SUFFIXES):
            problems.append(f"{where}: {operation_id!r} looks like FastAPI's default id")
        elif not SNAKE_CASE.fullmatch(operation_id):
            problems.append(f"{where}: {operation_id!r} is not snake_case")
        elif operation_id.split("_")[0] not in VERBS:
            problems.append(f"{where}: {operation_id!r} does not start with a verb (VERBS)")
    problems += [f"{name!r} is the id of {n} operations" for name, n in ids.items() if n > 1]
    return problems


def schema_name_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for name in document.get("components", {}).get("schemas", {}):
        if name.startswith("Body_"):
            problems.append(f"{name!r}: FastAPI's generated body name; declare the body model")
        elif name.endswith(("-Input", "-Output")):
            problems.append(f"{name!r}: one model split in two by FastAPI; name each one")
        elif re.search(r"[a-z0-9](?:In|Out)$", name):
            problems.append(f"{name!r}: an internal In/Out suffix; use the name SPEC uses")
        elif not PASCAL_CASE.fullmatch(name):
            problems.append(f"{name!r} is not PascalCase")
        elif name in GENERATOR_NAMES:
            problems.append(f"{name!r}: a generated client's own name; choose another")
    return problems


def inline_object_problems(document: dict[str, Any]) -> list[str]:
    """Objects declared inline in a request or response: a generator names their class after
    the operation's title (``HealthzHealthzGetResponseHealthzHealthzGet``)."""
    problems = []
    for method, path, operation in operations(document):
        contents = [("request", operation.get("requestBody", {}).get("content", {}))]
        contents += [
            (status, response.get("content", {}))
            for status, response in operation.get("responses", {}).items()
        ]
        for what, content in contents:
            for media_type in content.values():
                schema = media_type.get("schema", {})
                if schema.get("type") == "object" or "properties" in schema:
                    problems.append(f"{method} {path} {what}: an inline object; declare a model")
    return problems


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_operation_ids_say_what_the_operation_does(document: dict[str, Any]) -> None:
    problems = operation_id_problems(document)
    assert not problems, "\n".join(problems)


def test_schemas_carry_the_names_spec_uses(document: dict[str, Any]) -> None:
    problems = schema_name_problems(document)
    assert not problems, "\n".join(problems)


def test_requests_and_responses_are_named_models(document: dict[str, Any]) -> None:
    problems = inline_object_problems(document)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_fastapis_defaults() -> None:
    def operation(operation_id: str | None) -> dict[str, Any]:
        return {"operationId": operation_id} if operation_id else {}

    bad = {
        "paths": {
            "/api/v1/auth/signup": {"post": operation("sign_up_api_v1_auth_signup_post")},
            "/api/v1/devices/{device_id}": {"get": operation("get_device"), "delete": {}},
            "/api/v1/devices": {"get": operation("get_device"), "post": operation("Register")},
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"type": "object"}}}}
                    },
                }
            },
            "/metrics": {"get": operation("scrape_metrics_metrics_get")},
        },
        "components": {
            "schemas": {
                "Device": {},
                "DeviceOut": {},
                "SignupIn": {},
                "Body_issue_token_api_v1_auth_token_post": {},
                "Signal-Input": {},
                "Signal-Output": {},
                "access_token": {},
                "Client": {},
            }
        },
    }
    assert operation_id_problems(bad) == [
        "POST /api/v1/auth/signup: 'sign_up_api_v1_auth_signup_post' looks like FastAPI's "
        "default id",
        "DELETE /api/v1/devices/{device_id}: no operationId",
        "POST /api/v1/devices: 'Register' is not snake_case",
        "GET /healthz: 'healthz' does not start with a verb (VERBS)",
        "GET /metrics: 'scrape_metrics_metrics_get' looks like FastAPI's default id",
        "'get_device' is the id of 2 operations",
    ]
    assert inline_object_problems(bad) == ["GET /healthz 200: an inline object; declare a model"]
    assert [problem.split(":")[0] for problem in schema_name_problems(bad)] == [
        "'DeviceOut'",
        "'SignupIn'",
        "'Body_issue_token_api_v1_auth_token_post'",
        "'Signal-Input'",
        "'Signal-Output'",
        "'access_token' is not PascalCase",
        "'Client'",
    ]
