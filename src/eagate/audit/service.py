"""The audit trail: written in the same transaction as the act it records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit.models import AuditEvent
from eagate.pagination import Page, PageRequest


@dataclass(frozen=True)
class Actor:
    """Who did it, from where: ``client:<id>``, ``device:<id>``, ``operator:cli`` or
    ``system``."""

    name: str
    ip: str | None = None

    @classmethod
    def client(cls, client_id: uuid.UUID, ip: str | None) -> Actor:
        return cls(f"client:{client_id}", ip)


# An operator acting on the database through the `eagate` command line.
OPERATOR_CLI = Actor("operator:cli")


def record(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    action: str,
    actor: Actor,
    at: datetime,
    device_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        client_id=client_id,
        at=at,
        action=action,
        actor=actor.name,
        device_id=device_id,
        ip=actor.ip,
        detail=detail or {},
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    page: PageRequest,
    device_id: uuid.UUID | None,
) -> Page[AuditEvent]:
    """Newest first."""
    query = select(AuditEvent).where(AuditEvent.client_id == client_id)
    if device_id is not None:
        query = query.where(AuditEvent.device_id == device_id)
    if page.after is not None:
        query = query.where(AuditEvent.id < page.after)
    rows = list(await session.scalars(query.order_by(AuditEvent.id.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(rows, rows[-1].id if more else None)
