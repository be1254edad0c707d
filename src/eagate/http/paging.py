"""Paging over HTTP (SPEC 1): ``limit`` and ``cursor`` in, an RFC 8288 ``Link`` header out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from eagate.kit.paging import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, decode_cursor, encode_cursor


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=64, description="Opaque cursor from a Link header")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]


def set_next_link(request: Request, response: Response, next_after: uuid.UUID | None) -> None:
    """Announce the next page, keeping every other query parameter as the client sent it."""
    if next_after is None:
        return
    url = request.url.include_query_params(cursor=encode_cursor(next_after))
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
