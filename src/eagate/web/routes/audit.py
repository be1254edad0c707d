"""The owner's audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from eagate.audit import service as audit_service
from eagate.http.dependencies import SessionDep
from eagate.http.paging import PageDep
from eagate.web.dependencies import DashboardDep, SignedIn
from eagate.web.presenters import next_cursor
from eagate.web.queries import device_names
from eagate.web.rendering import UI_PREFIX, WebRoute, render

router = APIRouter(prefix=UI_PREFIX, route_class=WebRoute)


@router.get("/audit")
async def audit_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
    page: PageDep,
    device_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """The owner's audit trail, newest first."""
    result = await audit_service.list_events(
        session, client_id=viewer.owner.id, page=page, device_id=device_id
    )
    return render(
        request,
        "audit.html",
        {
            "viewer": viewer,
            "section": "audit",
            "events": result.items,
            "next_cursor": next_cursor(result.next_after),
            "device_id": device_id,
            "device_names": await device_names(session, viewer.owner.id),
            "own_actor": f"client:{viewer.owner.id}",
            "now": services.clock.now(),
        },
    )
