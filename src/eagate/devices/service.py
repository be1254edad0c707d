"""The device registry: register, list, get, rename, revoke, rotate."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts.models import Client
from eagate.audit import service as audit
from eagate.audit.service import Actor
from eagate.devices.changes import record_auth_change
from eagate.devices.errors import DeviceNameTaken, DeviceNotFound, DeviceRevoked
from eagate.devices.models import Device
from eagate.devices.names import name_key
from eagate.devices.secrets import SecretBox, fingerprint_of, generate_secret
from eagate.kit.ids import uuid7
from eagate.kit.paging import Page, PageRequest

# What other domains do, in the revoking transaction, when a device is revoked (signals:
# cancel its deliveries not yet acknowledged). Wired once by eagate.runtime, so this domain
# never imports those above it.
RevocationHook = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[None]]
revocation_hooks: list[RevocationHook] = []


@dataclass(frozen=True)
class DeviceWithNewSecret:
    device: Device
    secret: str = field(repr=False)


async def _flush_checking_name(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if "name_key" in str(exc.orig):
            raise DeviceNameTaken() from exc
        raise


async def register(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    device_name: str,
    secret_box: SecretBox,
    actor: Actor,
    now: datetime,
) -> DeviceWithNewSecret:
    device_id = uuid7()
    secret = generate_secret()
    sealed = secret_box.seal(device_id=device_id, secret=secret)
    device = Device(
        id=device_id,
        client_id=client_id,
        device_name=device_name,
        name_key=name_key(device_name),
        is_active=True,
        created_at=now,
        updated_at=now,
        secret_fingerprint=fingerprint_of(secret),
        secret_key_id=sealed.key_id,
        secret_ciphertext=sealed.ciphertext,
    )
    session.add(device)
    await _flush_checking_name(session)
    record_auth_change(session, [device.id], at=now)  # drops a cached "no such device"
    audit.record(
        session,
        client_id=client_id,
        action="device.registered",
        actor=actor,
        at=now,
        device_id=device.id,
        detail={"device_name": device_name, "secret_fingerprint": device.secret_fingerprint},
    )
    return DeviceWithNewSecret(device, secret)


async def list_devices(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    page: PageRequest,
    include_revoked: bool,
) -> Page[Device]:
    """Oldest first (ids are time-ordered), keyset-paginated."""
    query = select(Device).where(Device.client_id == client_id)
    if not include_revoked:
        query = query.where(Device.is_active)
    if page.after is not None:
        query = query.where(Device.id > page.after)
    rows = list(await session.scalars(query.order_by(Device.id).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(rows, rows[-1].id if more else None)


async def get_device(
    session: AsyncSession, *, client_id: uuid.UUID, device_id: uuid.UUID, for_update: bool = False
) -> Device:
    """The owner's device; another owner's device is as missing as a nonexistent one."""
    query = select(Device).where(Device.id == device_id, Device.client_id == client_id)
    if for_update:
        query = query.with_for_update()
    device = await session.scalar(query)
    if device is None:
        raise DeviceNotFound()
    return device


async def rename(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    device_id: uuid.UUID,
    device_name: str,
    actor: Actor,
    now: datetime,
) -> Device:
    device = await get_device(session, client_id=client_id, device_id=device_id, for_update=True)
    if not device.is_active:
        raise DeviceRevoked("a revoked device cannot be renamed")
    if device.device_name == device_name:
        return device
    previous = device.device_name
    device.device_name = device_name
    device.name_key = name_key(device_name)
    device.updated_at = now
    await _flush_checking_name(session)
    record_auth_change(session, [device.id], at=now)
    audit.record(
        session,
        client_id=client_id,
        action="device.renamed",
        actor=actor,
        at=now,
        device_id=device.id,
        detail={"from": previous, "to": device_name},
    )
    return device


async def revoke(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    device_id: uuid.UUID,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> Device:
    """Deactivate the device for good; revoking again changes nothing."""
    device = await get_device(session, client_id=client_id, device_id=device_id, for_update=True)
    if not device.is_active:
        return device
    device.is_active = False
    device.revoked_at = now
    device.revoke_reason = reason
    device.updated_at = now
    # A rotated-out key in its grace period is kept until that ends: a terminal still
    # signing with it is the device, and must hear `device_revoked`, not
    # `invalid_signature` (issue 10). It can never be served: the device is inactive.
    for hook in revocation_hooks:
        await hook(session, device.id, now)
    await session.flush()
    record_auth_change(session, [device.id], at=now)
    audit.record(
        session,
        client_id=client_id,
        action="device.revoked",
        actor=actor,
        at=now,
        device_id=device.id,
        detail={"reason": reason},
    )
    return device


async def rotate_secret(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    device_id: uuid.UUID,
    secret_box: SecretBox,
    grace_seconds: int,
    actor: Actor,
    now: datetime,
) -> DeviceWithNewSecret:
    """Issue a new secret; the current one stays valid for the grace period or until the
    device first signs with the new one."""
    device = await get_device(session, client_id=client_id, device_id=device_id, for_update=True)
    if not device.is_active:
        raise DeviceRevoked("a revoked device cannot get a new secret")
    secret = generate_secret()
    sealed = secret_box.seal(device_id=device.id, secret=secret)
    previous_fingerprint = device.secret_fingerprint
    if grace_seconds > 0:
        device.previous_secret_key_id = device.secret_key_id
        device.previous_secret_ciphertext = device.secret_ciphertext
        device.previous_secret_expires_at = now + timedelta(seconds=grace_seconds)
    else:
        device.previous_secret_key_id = None
        device.previous_secret_ciphertext = None
        device.previous_secret_expires_at = None
    device.secret_key_id = sealed.key_id
    device.secret_ciphertext = sealed.ciphertext
    device.secret_fingerprint = fingerprint_of(secret)
    device.updated_at = now
    await session.flush()
    record_auth_change(session, [device.id], at=now)
    audit.record(
        session,
        client_id=client_id,
        action="device.secret_rotated",
        actor=actor,
        at=now,
        device_id=device.id,
        detail={
            "previous_fingerprint": previous_fingerprint,
            "secret_fingerprint": device.secret_fingerprint,
            "grace_seconds": grace_seconds,
        },
    )
    return DeviceWithNewSecret(device, secret)


# --- owners' device counts -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSummary:
    """An owner account with its device counts (for operators)."""

    client: Client
    devices: int
    active_devices: int


def _summaries() -> Select[Client, int, int]:
    return (
        select(
            Client,
            func.count(Device.id),
            func.count(Device.id).filter(Device.is_active.is_(True)),
        )
        .outerjoin(Device, Device.client_id == Client.id)
        .group_by(Client.id)
    )


async def list_clients(session: AsyncSession) -> list[ClientSummary]:
    """Every account, oldest first, with how many devices it has."""
    rows = await session.execute(_summaries().order_by(Client.created_at, Client.id))
    return [ClientSummary(client, devices, active) for client, devices, active in rows]


async def summarize_client(session: AsyncSession, client_id: uuid.UUID) -> ClientSummary | None:
    row = (await session.execute(_summaries().where(Client.id == client_id))).first()
    return ClientSummary(*row) if row else None
