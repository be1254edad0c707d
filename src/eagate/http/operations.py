"""Operator endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from eagate.http.dependencies import DatabaseDep, MetricsDep, SettingsDep
from eagate.kit.migrate import head_revision
from eagate.kit.problems import NotAuthenticated

log = logging.getLogger("eagate")

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: Literal["ok"]


@router.get("/healthz")
async def check_liveness() -> Liveness:
    """The process is alive."""
    return Liveness(status="ok")


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def check_readiness(database: DatabaseDep) -> JSONResponse:
    """The database is reachable and its schema is at the head revision."""
    try:
        async with database.transaction(read_only=True) as session:
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


def bearer_token_matches(*, authorization: str | None, token: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>``, compared in constant time."""
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


@router.get("/metrics", response_class=Response)
async def scrape_metrics(
    settings: SettingsDep,
    metrics: MetricsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Prometheus metrics (text exposition format); with EAGATE_METRICS_TOKEN set, only for
    `Authorization: Bearer <token>`."""
    expected = settings.metrics_token
    if expected is not None and not bearer_token_matches(
        authorization=authorization, token=expected.get_secret_value()
    ):
        raise NotAuthenticated("GET /metrics needs the metrics token (Authorization: Bearer)")
    return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)
