"""Reads that pages of more than one area need."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from eagate.devices import service as devices_service
from eagate.devices.models import Device
from eagate.kit.paging import PageRequest


async def _all_devices(session: AsyncSession, owner_id: uuid.UUID) -> list[Device]:
    """Every device of the owner's, revoked ones included, oldest first."""
    devices: list[Device] = []
    after: uuid.UUID | None = None
    while True:
        result = await devices_service.list_devices(
            session,
            client_id=owner_id,
            page=PageRequest(limit=200, after=after),
            include_revoked=True,
        )
        devices.extend(result.items)
        if result.next_after is None:
            return devices
        after = result.next_after


async def device_names(session: AsyncSession, owner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Each device's name by its id, revoked devices included: signals and audit events name
    devices that may have been revoked since."""
    return {device.id: device.device_name for device in await _all_devices(session, owner_id)}
