"""Keyset pagination: a page request, a page, and the opaque cursor naming the last id seen.

The HTTP side (query parameters, the RFC 8288 Link header) is ``eagate.http.paging``."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from eagate.kit.problems import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(
            "cursor is not one this server issued",
            errors=[{"field": "query.cursor", "message": "invalid cursor"}],
        ) from exc


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: uuid.UUID | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: uuid.UUID | None
