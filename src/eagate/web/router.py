"""The owner dashboard: sign-in, devices, signals and the audit log, rendered on the server.

Routes call the domain services directly, in the request's one transaction; a form's domain
action runs in a savepoint of it (``eagate.web.forms``), so the form can be shown again with
the message while nothing of the failed attempt is kept. Each area's routes are in
``eagate.web.routes``; this router gathers them, none of them in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from eagate.web.rendering import UI_PREFIX
from eagate.web.routes import account, audit, devices, signals

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    """The dashboard is the server's home page."""
    return RedirectResponse(UI_PREFIX, status_code=307)


router.include_router(account.router)
router.include_router(devices.router)
router.include_router(signals.router)
router.include_router(audit.router)
