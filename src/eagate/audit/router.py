from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from eagate.accounts.dependencies import CurrentOwner
from eagate.audit import service
from eagate.http.dependencies import SessionDep
from eagate.http.paging import PageDep, set_next_link
from eagate.http.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])


class AuditEvent(BaseModel):
    """One entry of the owner's audit trail (SPEC 6)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    action: str
    actor: str
    device_id: uuid.UUID | None
    ip: str | None
    detail: dict[str, Any]


@router.get("", response_model=list[AuditEvent])
async def list_audit_events(
    owner: CurrentOwner,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    device_id: Annotated[uuid.UUID | None, Query(description="Only this device's events")] = None,
) -> list[AuditEvent]:
    """The owner's audit trail, newest first."""
    result = await service.list_events(session, client_id=owner.id, page=page, device_id=device_id)
    set_next_link(request, response, result.next_after)
    return [AuditEvent.model_validate(event) for event in result.items]
