"""Keyset pagination: an opaque cursor naming the last id seen, and the RFC 8288 Link header."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, Response

from eagate.errors import ValidationFailed

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


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=64, description="Opaque cursor from a Link header")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: uuid.UUID | None


def set_next_link(request: Request, response: Response, next_after: uuid.UUID | None) -> None:
    """Announce the next page, keeping every other query parameter as the client sent it."""
    if next_after is None:
        return
    url = request.url.include_query_params(cursor=encode_cursor(next_after))
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
