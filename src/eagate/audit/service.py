"""The audit trail: written in the same transaction as the act it records."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit.models import AuditEvent
from eagate.kit.ids import uuid7_at
from eagate.kit.paging import Page, PageRequest


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


def minute_id_range(minute: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The UUIDv7 ids whose time falls in ``minute`` (unix minutes): [low, high)."""
    return uuid.UUID(int=minute * 60_000 << 80), uuid.UUID(int=(minute + 1) * 60_000 << 80)


async def count_in_minute(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    action: str,
    actor: Actor,
    first_at: datetime,
    count: int,
    codes: Counter[str] | None = None,
    device_id: uuid.UUID | None = None,
) -> None:
    """Add ``count`` (and ``codes``) to the one ``action`` event of this owner (and device) in
    ``first_at``'s minute, or write it: repeated failures must not flood the trail.

    The event is stamped (``at``, and the time in its UUIDv7 id, by which the trail is
    ordered) with the first occurrence, so it sorts after the act that caused it, not at the
    start of its minute; later additions find it by its id range. Callers make additions for
    one owner or device take turns (one event, not two, under concurrency).
    """
    low, high = minute_id_range(int(first_at.timestamp() // 60))
    event = await session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.client_id == client_id,
            AuditEvent.device_id == device_id
            if device_id is not None
            else AuditEvent.device_id.is_(None),
            AuditEvent.id >= low,
            AuditEvent.id < high,
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
    if event is None:
        detail: dict[str, Any] = {"count": count}
        if codes is not None:
            detail["codes"] = dict(codes)
        session.add(
            AuditEvent(
                id=uuid7_at(int(first_at.timestamp() * 1000)),
                client_id=client_id,
                at=first_at,
                action=action,
                actor=actor.name,
                device_id=device_id,
                ip=actor.ip,
                detail=detail,
            )
        )
        return
    merged: dict[str, Any] = {**event.detail, "count": int(event.detail.get("count", 0)) + count}
    if codes is not None:
        merged["codes"] = dict(Counter(event.detail.get("codes", {})) + codes)
    event.detail = merged
    event.ip = actor.ip


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
