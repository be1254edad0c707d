"""Sign-up, sign-in, password change and account deletion: the acts that run Argon2.

A password hash takes ~0.1-0.2 s of a core and 64 MiB. Run inside a transaction it would hold
the database's write lock (SQLite's ``BEGIN IMMEDIATE``) or a pool connection that long, and
every other owner's writes would queue behind it. So each of these reads what it needs in a
short read-only transaction, hashes or verifies holding no connection at all (through the
hashing gate, which bounds how many run at once), then writes in a short transaction of its
own. That is why these, alone among owner acts, open their own transactions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eagate.accounts import service
from eagate.accounts.errors import AccountLocked, EmailTaken, InvalidCredentials, WrongPassword
from eagate.accounts.models import Client, OwnerSession
from eagate.accounts.security import AccessToken, Passwords, Tokens
from eagate.audit.service import Actor
from eagate.cluster.throttle import Throttle
from eagate.kit.clock import Clock
from eagate.kit.db import Database
from eagate.kit.text import reject_control_characters


@dataclass(frozen=True)
class Context:
    """What every flow needs from the running service."""

    database: Database
    passwords: Passwords
    throttle: Throttle
    clock: Clock
    tokens: Tokens


@dataclass(frozen=True)
class SignedIn:
    client: Client
    session: OwnerSession
    token: AccessToken


async def sign_up(ctx: Context, *, email: str, password: str, ip: str | None) -> Client:
    """Create an account (throttled per address; EmailTaken without hashing when taken)."""
    await ctx.throttle.count_sign_up(ip)
    async with ctx.database.transaction(read_only=True) as session:
        taken = await service.email_taken(session, email)
    if taken:
        raise EmailTaken()
    password_hash = await ctx.passwords.hash(password)
    async with ctx.database.transaction() as session:
        return await service.create_client(
            session, email=email, password_hash=password_hash, now=ctx.clock.now()
        )


async def sign_in(
    ctx: Context,
    *,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> SignedIn:
    """A new session and its access token for these credentials.

    InvalidCredentials; RateLimited once this email or address has failed too often (the
    attempt is counted before the password is checked, so concurrent guesses cannot pass
    the limit); AccountLocked for a locked account (told only to someone who knows its
    password); PasswordHashingBusy when too many passwords are being checked at once.
    """
    client = None
    try:
        reject_control_characters(email)  # no account has one (sign-up refuses them)
    except ValueError:
        pass
    else:
        async with ctx.database.transaction(read_only=True) as session:
            client = await service.get_client_by_email(session, email)
    keys = Throttle.sign_in_keys(ip, email, client.lockout_generation if client else 0)
    await ctx.throttle.reserve_sign_in(keys)
    try:
        verified = await ctx.passwords.verify(client.password_hash if client else None, password)
    except BaseException:
        await ctx.throttle.release_sign_in(keys)  # busy or cancelled: nothing was checked
        raise
    if not verified:
        if client is not None:
            async with ctx.database.transaction() as session:
                await service.record_sign_in_failure(
                    session, client_id=client.id, ip=ip, now=ctx.clock.now()
                )
        raise InvalidCredentials()
    assert client is not None
    await ctx.throttle.release_sign_in(keys)
    if client.locked_at is not None:
        raise AccountLocked()
    return await open_session(
        ctx,
        client,
        ip=ip,
        user_agent=user_agent,
        verified_hash=client.password_hash,
    )


async def open_session(
    ctx: Context,
    client: Client,
    *,
    ip: str | None,
    user_agent: str | None,
    verified_hash: str | None = None,
) -> SignedIn:
    """A session and its token for an owner who just proved their password (a sign-in, or
    the dashboard's sign-up, which needs no second hash). ``verified_hash``: the hash the
    password was verified against, which must still be the account's (InvalidCredentials if
    the password was changed meanwhile: the change revoked every session of the old one)."""
    now = ctx.clock.now()
    async with ctx.database.transaction() as session:
        owner_session = await service.start_session(
            session,
            client_id=client.id,
            ip=ip,
            user_agent=user_agent,
            ttl_seconds=ctx.tokens.ttl_seconds,
            now=now,
            verified_hash=verified_hash,
        )
    token = ctx.tokens.issue(client_id=client.id, session_id=owner_session.id, now=now)
    return SignedIn(client, owner_session, token)


async def _check_password(ctx: Context, client_id: uuid.UUID, password: str, ip: str | None) -> str:
    """The account's current hash, once ``password`` is verified against it (WrongPassword
    otherwise; throttled like sign-ins, so a stolen token cannot be used to guess)."""
    async with ctx.database.transaction(read_only=True) as session:
        client = await service.get_client(session, client_id)
    if client is None:
        raise WrongPassword()
    keys = Throttle.sign_in_keys(ip, client.email, client.lockout_generation)
    await ctx.throttle.reserve_sign_in(keys)
    try:
        verified = await ctx.passwords.verify(client.password_hash, password)
    except BaseException:
        await ctx.throttle.release_sign_in(keys)
        raise
    if not verified:
        raise WrongPassword()
    await ctx.throttle.release_sign_in(keys)
    return client.password_hash


async def change_password(
    ctx: Context,
    *,
    client_id: uuid.UUID,
    session_id: uuid.UUID,
    current_password: str,
    new_password: str,
    ip: str | None,
) -> None:
    """Set a new password and revoke every session but the one asking."""
    old_hash = await _check_password(ctx, client_id, current_password, ip)
    new_hash = await ctx.passwords.hash(new_password)
    async with ctx.database.transaction() as session:
        changed = await service.set_password(
            session,
            client_id=client_id,
            old_hash=old_hash,
            new_hash=new_hash,
            keep_session=session_id,
            actor=Actor.client(client_id, ip),
            now=ctx.clock.now(),
        )
    if not changed:  # changed meanwhile by another request: the password given is not current
        raise WrongPassword()


async def delete_account(
    ctx: Context, *, client_id: uuid.UUID, password: str, ip: str | None
) -> None:
    """Delete the account, once its password is confirmed."""
    await _check_password(ctx, client_id, password, ip)
    async with ctx.database.transaction() as session:
        await service.delete_client(session, client_id, now=ctx.clock.now())
