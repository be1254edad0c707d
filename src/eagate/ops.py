"""Operator endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from eagate.errors import NotAuthenticated
from eagate.migrations_runner import head_revision
from eagate.signals.service import delivery_counts
from eagate.state import StateDep

log = logging.getLogger("eagate")

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def readyz(state: StateDep) -> JSONResponse:
    """The database is reachable and its schema is at the head revision."""
    try:
        async with state.database.transaction(read_only=True) as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        # The reason in plain words: the exception (driver, class) is for the log only.
        log.warning("readiness: the database is unreachable (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    head = head_revision()
    if current != head:
        return JSONResponse(
            {"status": "migrating", "schema": current, "head": head}, status_code=503
        )
    return JSONResponse({"status": "ok", "schema": current})


_DELIVERY_COUNTS_TTL = 10.0


def bearer_token_matches(*, authorization: str | None, token: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>``, compared in constant time."""
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


@router.get("/metrics", response_class=Response)
async def metrics(
    state: StateDep, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Response:
    """Prometheus metrics (text exposition format); with EAGATE_METRICS_TOKEN set, only for
    `Authorization: Bearer <token>`."""
    expected = state.settings.metrics_token
    if expected is not None and not bearer_token_matches(
        authorization=authorization, token=expected.get_secret_value()
    ):
        raise NotAuthenticated("GET /metrics needs the metrics token (Authorization: Bearer)")
    # Counting every delivery is a scan: at most one per TTL, however often we are scraped.
    cached_at, counts = state.extras.get("delivery_counts", (-_DELIVERY_COUNTS_TTL, {}))
    if state.clock.time() - cached_at >= _DELIVERY_COUNTS_TTL:
        async with state.database.transaction(read_only=True) as session:
            counts = await delivery_counts(session, now=state.clock.now())
        state.extras["delivery_counts"] = (state.clock.time(), counts)
    state.metrics.deliveries_by_status = lambda: counts
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
