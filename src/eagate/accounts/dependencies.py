from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from eagate.accounts.models import Client
from eagate.accounts.security import read_access_token
from eagate.accounts.service import get_client
from eagate.errors import NotAuthenticated
from eagate.logs import bind_actor
from eagate.state import SessionDep, StateDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_owner(
    state: StateDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Client:
    """The signed-in owner; 401 for a missing, expired or invalid token or a deleted account."""
    if not token:
        raise NotAuthenticated()
    client_id = read_access_token(token=token, key=state.keys.jwt_secret, now=state.clock.now())
    client = await get_client(session, client_id) if client_id else None
    if client is None:
        raise NotAuthenticated()
    bind_actor(client_id=client.id)
    return client


CurrentOwner = Annotated[Client, Depends(current_owner)]
