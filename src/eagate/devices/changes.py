"""Announcing changes to who may sign as a device.

A change is written to the ``device_auth_changes`` outbox in the caller's transaction (every
process reads it within a second) and, once that transaction commits, handed to every
in-process subscriber (this process's coordination: its credential cache and, with Redis, the
shared version counters), so revocation takes effect on the very next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.devices.models import Device, DeviceAuthChange
from eagate.kit.db import after_commit

Listener = Callable[[tuple[uuid.UUID, ...]], Awaitable[None]]
_listeners: set[Listener] = set()


def subscribe(listener: Listener) -> None:
    _listeners.add(listener)


def unsubscribe(listener: Listener) -> None:
    _listeners.discard(listener)


async def _announce(device_ids: tuple[uuid.UUID, ...]) -> None:
    for listener in list(_listeners):
        await listener(device_ids)


def record_auth_change(
    session: AsyncSession, device_ids: Iterable[uuid.UUID], *, at: datetime
) -> None:
    ids = tuple(device_ids)
    session.add_all(DeviceAuthChange(device_id=device_id, at=at) for device_id in ids)
    after_commit(session, lambda: _announce(ids))


async def record_owner_devices_gone(
    session: AsyncSession, client_id: uuid.UUID, at: datetime
) -> None:
    """Before an owner is deleted: announce that none of its devices may sign any more."""
    device_ids = await session.scalars(select(Device.id).where(Device.client_id == client_id))
    record_auth_change(session, device_ids, at=at)
