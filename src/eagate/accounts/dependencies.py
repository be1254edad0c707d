from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts import service
from eagate.accounts.flows import Context
from eagate.accounts.models import Client
from eagate.accounts.security import Passwords, TokenRefused, Tokens
from eagate.cluster.throttle import Throttle
from eagate.http.dependencies import ClockDep, DatabaseDep, SessionDep, component
from eagate.kit.clock import Clock
from eagate.kit.db import Database, after_commit
from eagate.kit.logs import bind_actor
from eagate.kit.problems import NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    """The signed-in owner and the session its token belongs to."""

    client: Client
    session_id: uuid.UUID


@dataclass(frozen=True)
class TokenCheck:
    """What checking an owner's token needs: the token reader, the clock, and the database
    (to touch the session's last use after the request)."""

    tokens: Tokens
    clock: Clock
    database: Database


TokensDep = Annotated[Tokens, Depends(component(Tokens))]


def token_check(tokens: TokensDep, clock: ClockDep, database: DatabaseDep) -> TokenCheck:
    return TokenCheck(tokens, clock, database)


TokenCheckDep = Annotated[TokenCheck, Depends(token_check)]


async def authenticate_token(
    check: TokenCheck, session: AsyncSession, token: str | None
) -> Principal:
    """The owner a bearer token (API header or dashboard cookie) stands for, checked against
    its session record on every request, so a revocation anywhere applies at once everywhere;
    NotAuthenticated saying why not."""
    if not token:
        raise NotAuthenticated("no bearer token was sent")
    now = check.clock.now()
    try:
        claims = check.tokens.read(token, now=now)
    except TokenRefused as refused:
        raise NotAuthenticated(str(refused)) from None
    client, owner_session = await service.authenticate_session(
        session, client_id=claims.client_id, session_id=claims.session_id, now=now
    )
    if service.needs_touch(owner_session, now):
        after_commit(session, lambda: _touch(check, owner_session.id))
    bind_actor(client_id=client.id)
    return Principal(client, owner_session.id)


async def _touch(check: TokenCheck, session_id: uuid.UUID) -> None:
    # After the request's transaction, in one of its own: never while holding its locks.
    async with check.database.transaction() as session:
        await service.touch_session(session, session_id, now=check.clock.now())


async def current_principal(
    check: TokenCheckDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The signed-in owner, looked up in the request's transaction."""
    return await authenticate_token(check, session, token)


async def principal_outside_transaction(
    check: TokenCheckDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The signed-in owner, looked up in a short transaction of its own, for routes that must
    hold no connection afterwards (they hash a password: flows.py)."""
    async with check.database.transaction(read_only=True) as session:
        return await authenticate_token(check, session, token)


async def current_owner(principal: Annotated[Principal, Depends(current_principal)]) -> Client:
    """The signed-in owner; 401 for a missing, expired, invalid or revoked token or a deleted
    account."""
    return principal.client


PasswordsDep = Annotated[Passwords, Depends(component(Passwords))]
ThrottleDep = Annotated[Throttle, Depends(component(Throttle))]


def flows_context(
    database: DatabaseDep,
    passwords: PasswordsDep,
    throttle: ThrottleDep,
    clock: ClockDep,
    tokens: TokensDep,
) -> Context:
    return Context(database, passwords, throttle, clock, tokens)


CurrentOwner = Annotated[Client, Depends(current_owner)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# For the routes that verify or hash a password: no transaction is open while they do.
PrincipalOutsideTransaction = Annotated[Principal, Depends(principal_outside_transaction)]
FlowsDep = Annotated[Context, Depends(flows_context)]
