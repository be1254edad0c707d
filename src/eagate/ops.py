"""Operator endpoints: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from eagate.migrations_runner import head_revision
from eagate.state import StateDep

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
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    head = head_revision()
    if current != head:
        return JSONResponse(
            {"status": "migrating", "schema": current, "head": head}, status_code=503
        )
    return JSONResponse({"status": "ok", "schema": current})
