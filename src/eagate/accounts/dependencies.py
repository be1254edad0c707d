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
from eagate.accounts.security import TokenRefused, read_access_token
from eagate.db import after_commit
from eagate.errors import NotAuthenticated
from eagate.logs import bind_actor
from eagate.state import AppState, SessionDep, StateDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    """The signed-in owner and the session its token belongs to."""

    client: Client
    session_id: uuid.UUID


async def authenticate_token(
    state: AppState, session: AsyncSession, token: str | None
) -> Principal:
    """The owner a bearer token (API header or dashboard cookie) stands for, checked against
    its session record on every request, so a revocation anywhere applies at once everywhere;
    NotAuthenticated saying why not."""
    if not token:
        raise NotAuthenticated("no bearer token was sent")
    now = state.clock.now()
    try:
        claims = read_access_token(token=token, key=state.keys.jwt_secret, now=now)
    except TokenRefused as refused:
        raise NotAuthenticated(str(refused)) from None
    client, owner_session = await service.authenticate_session(
        session, client_id=claims.client_id, session_id=claims.session_id, now=now
    )
    if service.needs_touch(owner_session, now):
        after_commit(session, lambda: _touch(state, owner_session.id))
    bind_actor(client_id=client.id)
    return Principal(client, owner_session.id)


async def _touch(state: AppState, session_id: uuid.UUID) -> None:
    # After the request's transaction, in one of its own: never while holding its locks.
    async with state.database.transaction() as session:
        await service.touch_session(session, session_id, now=state.clock.now())


async def current_principal(
    state: StateDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The signed-in owner, looked up in the request's transaction."""
    return await authenticate_token(state, session, token)


async def principal_outside_transaction(
    state: StateDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The signed-in owner, looked up in a short transaction of its own, for routes that must
    hold no connection afterwards (they hash a password: flows.py)."""
    async with state.database.transaction(read_only=True) as session:
        return await authenticate_token(state, session, token)


async def current_owner(principal: Annotated[Principal, Depends(current_principal)]) -> Client:
    """The signed-in owner; 401 for a missing, expired, invalid or revoked token or a deleted
    account."""
    return principal.client


def flows_context(state: StateDep) -> Context:
    return Context(state.database, state.passwords, state.throttle, state.clock)


CurrentOwner = Annotated[Client, Depends(current_owner)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# For the routes that verify or hash a password: no transaction is open while they do.
PrincipalOutsideTransaction = Annotated[Principal, Depends(principal_outside_transaction)]
FlowsDep = Annotated[Context, Depends(flows_context)]
