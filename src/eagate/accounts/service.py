"""Owner accounts: sign-up, sign-in, deletion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts.errors import EmailTaken, InvalidCredentials
from eagate.accounts.models import Client
from eagate.accounts.security import Passwords
from eagate.devices.changes import record_owner_devices_gone
from eagate.devices.models import Device
from eagate.text import reject_control_characters
from eagate.throttle import RateLimited, Throttle


@dataclass(frozen=True)
class ClientSummary:
    """An account with its device counts (for operators)."""

    client: Client
    devices: int
    active_devices: int


async def sign_up(
    session: AsyncSession, *, email: str, password: str, passwords: Passwords, now: datetime
) -> Client:
    client = Client(email=email, password_hash=await passwords.hash(password), created_at=now)
    session.add(client)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise EmailTaken() from exc
    return client


async def authenticate(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    passwords: Passwords,
    throttle: Throttle,
    ip: str | None,
) -> Client:
    """The account these credentials open; InvalidCredentials, or RateLimited once this email
    or address has failed too often (then the password is not even checked)."""
    retry_after = throttle.retry_after(*Throttle.sign_in_keys(ip, email))
    if retry_after is not None:
        raise RateLimited(retry_after)
    try:
        reject_control_characters(email)  # no account has one (signup refuses them)
        client = await session.scalar(select(Client).where(Client.email == email))
    except ValueError:
        client = None
    if not await passwords.verify(client.password_hash if client else None, password):
        retry_after = await throttle.sign_in_failed(ip, email)
        if retry_after is not None:
            raise RateLimited(retry_after)
        raise InvalidCredentials()
    assert client is not None
    return client


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


async def get_client_by_email(session: AsyncSession, email: str) -> Client | None:
    """The account with this email (normalized as at sign-up), if any."""
    return await session.scalar(select(Client).where(Client.email == email))


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


async def delete_client(session: AsyncSession, client_id: uuid.UUID, *, now: datetime) -> None:
    """Delete the account; the database cascades to everything it owns."""
    await record_owner_devices_gone(session, client_id, at=now)
    await session.execute(delete(Client).where(Client.id == client_id))
