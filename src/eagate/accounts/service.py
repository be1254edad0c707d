"""Owner accounts: sign-up, sign-in, deletion."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts.errors import EmailTaken, InvalidCredentials
from eagate.accounts.models import Client
from eagate.accounts.security import Passwords
from eagate.devices.changes import record_owner_devices_gone


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
    session: AsyncSession, *, email: str, password: str, passwords: Passwords
) -> Client:
    client = await session.scalar(select(Client).where(Client.email == email))
    if not await passwords.verify(client.password_hash if client else None, password):
        raise InvalidCredentials()
    assert client is not None
    return client


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


async def delete_client(session: AsyncSession, client_id: uuid.UUID, *, now: datetime) -> None:
    """Delete the account; the database cascades to everything it owns."""
    await record_owner_devices_gone(session, client_id, at=now)
    await session.execute(delete(Client).where(Client.id == client_id))
