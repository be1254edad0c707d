"""Owner accounts: the database side of sign-up, sessions, password changes, locks and
deletion. Password hashing never happens here (see flows.py): these run inside one short
transaction each, and flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts.errors import AccountLocked, EmailTaken, InvalidCredentials, SessionNotFound
from eagate.accounts.models import Client, OwnerSession
from eagate.audit import service as audit
from eagate.kit.paging import Page, PageRequest
from eagate.kit.problems import NotAuthenticated

# last_used_at is written at most this often per session (not on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)
# Expired or revoked sessions are kept this long (so GET /auth/sessions and the audit trail
# can be read against them), then pruned when the owner next signs in.
KEEP_ENDED_SESSIONS = timedelta(days=7)
USER_AGENT_MAX = 256

# What other domains do, in the deleting transaction, before an owner is deleted (devices:
# announce that none of its devices may sign any more). Wired once by eagate.runtime, so this
# domain never imports those above it.
OwnerDeletionHook = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[None]]
owner_deletion_hooks: list[OwnerDeletionHook] = []


# --- accounts --------------------------------------------------------------------------------


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(Client.id).where(Client.email == email))) is not None


async def create_client(
    session: AsyncSession, *, email: str, password_hash: str, now: datetime
) -> Client:
    client = Client(email=email, password_hash=password_hash, created_at=now)
    session.add(client)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise EmailTaken() from exc
    return client


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


async def get_client_by_email(session: AsyncSession, email: str) -> Client | None:
    """The account with this email (normalized as at sign-up), if any."""
    return await session.scalar(select(Client).where(Client.email == email))


async def _locked_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    # FOR UPDATE: a sign-in, a lock and a password change of one account take turns (SQLite's
    # BEGIN IMMEDIATE already serializes writers).
    return await session.scalar(select(Client).where(Client.id == client_id).with_for_update())


async def set_password(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    old_hash: str,
    new_hash: str,
    keep_session: uuid.UUID,
    actor: audit.Actor,
    now: datetime,
) -> bool:
    """Replace the password, if it is still the one that was verified (False otherwise), and
    revoke every session but ``keep_session``."""
    changed = await session.execute(
        update(Client)
        .where(Client.id == client_id, Client.password_hash == old_hash)
        .values(password_hash=new_hash)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        return False
    revoked = await revoke_sessions(session, client_id, now=now, keep=keep_session)
    audit.record(
        session,
        client_id=client_id,
        action="owner.password_changed",
        actor=actor,
        at=now,
        detail={"sessions_revoked": revoked},
    )
    return True


async def set_locked(
    session: AsyncSession, client_id: uuid.UUID, *, locked: bool, actor: audit.Actor, now: datetime
) -> int:
    """Lock (revoking every session; the number revoked) or unlock the account."""
    client = await _locked_client(session, client_id)
    if client is None:
        return 0
    client.locked_at = now if locked else None
    revoked = await revoke_sessions(session, client_id, now=now) if locked else 0
    action = "owner.locked" if locked else "owner.unlocked"
    detail = {"sessions_revoked": revoked} if locked else {}
    audit.record(session, client_id=client_id, action=action, actor=actor, at=now, detail=detail)
    return revoked


async def reset_lockout(session: AsyncSession, client_id: uuid.UUID) -> None:
    """Give the email a fresh sign-in throttle counter (see Throttle.sign_in_keys)."""
    await session.execute(
        update(Client)
        .where(Client.id == client_id)
        .values(lockout_generation=Client.lockout_generation + 1)
    )


async def delete_client(session: AsyncSession, client_id: uuid.UUID, *, now: datetime) -> None:
    """Delete the account; the database cascades to everything it owns (its sessions and
    audit trail included). The other domains' hooks run first, in the same transaction."""
    for hook in owner_deletion_hooks:
        await hook(session, client_id, now)
    await session.execute(delete(Client).where(Client.id == client_id))


# --- sessions --------------------------------------------------------------------------------


async def start_session(
    session: AsyncSession,
    *,
    client_id: uuid.UUID,
    ip: str | None,
    user_agent: str | None,
    ttl_seconds: int,
    now: datetime,
    verified_hash: str | None = None,
) -> OwnerSession:
    """A new session for an owner whose password was just verified (AccountLocked if an
    operator locked the account, InvalidCredentials if it was deleted meanwhile or, given the
    ``verified_hash`` the password was checked against, if its password changed since)."""
    client = await _locked_client(session, client_id)
    if client is None or (verified_hash is not None and client.password_hash != verified_hash):
        raise InvalidCredentials()
    if client.locked_at is not None:
        raise AccountLocked()
    await session.execute(
        delete(OwnerSession).where(
            OwnerSession.client_id == client_id,
            OwnerSession.expires_at < now - KEEP_ENDED_SESSIONS,
        )
    )
    owner_session = OwnerSession(
        client_id=client_id,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        ip=ip,
        user_agent=(user_agent or None) and user_agent[:USER_AGENT_MAX],
    )
    session.add(owner_session)
    await session.flush()
    audit.record(
        session,
        client_id=client_id,
        action="owner.signed_in",
        actor=audit.Actor.client(client_id, ip),
        at=now,
        detail={"session_id": str(owner_session.id)},
    )
    return owner_session


async def record_sign_in_failure(
    session: AsyncSession, *, client_id: uuid.UUID, ip: str | None, now: datetime
) -> None:
    """``owner.sign_in_failed``: one event per owner per minute, with a count, stamped with
    the minute's first failure (so it sorts after whatever came before it)."""
    if await _locked_client(session, client_id) is None:  # the row lock: one event
        return
    await audit.count_in_minute(
        session,
        client_id=client_id,
        action="owner.sign_in_failed",
        actor=audit.Actor("anonymous", ip),
        first_at=now,
        count=1,
    )


async def authenticate_session(
    session: AsyncSession, *, client_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> tuple[Client, OwnerSession]:
    """The account and its session a token names; NotAuthenticated saying why not."""
    row = (
        await session.execute(
            select(Client, OwnerSession)
            .join(OwnerSession, OwnerSession.client_id == Client.id)
            .where(OwnerSession.id == session_id, Client.id == client_id)
        )
    ).first()
    if row is None:
        raise NotAuthenticated("the token's session no longer exists")
    client, owner_session = row
    if owner_session.revoked_at is not None:
        raise NotAuthenticated("the token's session was revoked (signed out)")
    if owner_session.expires_at <= now:
        raise NotAuthenticated("the bearer token has expired")
    return client, owner_session


def needs_touch(owner_session: OwnerSession, now: datetime) -> bool:
    return owner_session.last_used_at <= now - LAST_USED_RESOLUTION


async def touch_session(session: AsyncSession, session_id: uuid.UUID, *, now: datetime) -> None:
    # Conditional, so instances and concurrent requests write it once per resolution step.
    await session.execute(
        update(OwnerSession)
        .where(
            OwnerSession.id == session_id,
            OwnerSession.last_used_at <= now - LAST_USED_RESOLUTION,
        )
        .values(last_used_at=now)
    )


async def list_sessions(
    session: AsyncSession, *, client_id: uuid.UUID, page: PageRequest, now: datetime
) -> Page[OwnerSession]:
    """The owner's live sessions (neither revoked nor expired), newest first."""
    query = select(OwnerSession).where(
        OwnerSession.client_id == client_id,
        OwnerSession.revoked_at.is_(None),
        OwnerSession.expires_at > now,
    )
    if page.after is not None:
        query = query.where(OwnerSession.id < page.after)
    rows = list(await session.scalars(query.order_by(OwnerSession.id.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(rows, rows[-1].id if more else None)


async def revoke_session(
    session: AsyncSession, *, client_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> None:
    """Revoke one live session of this owner; SessionNotFound for anything else (another
    owner's included)."""
    revoked = await session.execute(
        update(OwnerSession)
        .where(
            OwnerSession.id == session_id,
            OwnerSession.client_id == client_id,
            OwnerSession.revoked_at.is_(None),
            OwnerSession.expires_at > now,
        )
        .values(revoked_at=now)
    )
    if not revoked.rowcount:  # type: ignore[attr-defined]
        raise SessionNotFound()


async def revoke_sessions(
    session: AsyncSession, client_id: uuid.UUID, *, now: datetime, keep: uuid.UUID | None = None
) -> int:
    """Revoke every live session of the owner (but ``keep``); how many were."""
    query = update(OwnerSession).where(
        OwnerSession.client_id == client_id,
        OwnerSession.revoked_at.is_(None),
        OwnerSession.expires_at > now,
    )
    if keep is not None:
        query = query.where(OwnerSession.id != keep)
    result = await session.execute(query.values(revoked_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]
