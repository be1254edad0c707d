"""The app's OpenAPI document, for tests that are generated from it at collection time."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eagate.app import create_app
from eagate.settings import Settings

BEARER_SCHEME = "OAuth2PasswordBearer"


def build_document() -> dict[str, Any]:
    """The document of an app that is built but never started (``openapi()`` touches no
    database; explicit keys, so nothing is written either)."""
    keys = {"master_key": base64.b64encode(bytes(32)).decode(), "jwt_secret": "d" * 43}
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir), env="test", **keys))
        document: dict[str, Any] = app.fastapi.openapi()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield method.upper(), path, operation


def path_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


def uses_bearer(operation: dict[str, Any]) -> bool:
    return any(BEARER_SCHEME in requirement for requirement in operation.get("security", []))
