from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from eagate.accounts import service
from eagate.accounts.dependencies import CurrentOwner
from eagate.accounts.schemas import ClientOut, SignupRequest, TokenOut
from eagate.accounts.security import issue_access_token
from eagate.api import API_PREFIX
from eagate.openapi import problem_responses
from eagate.requests import client_ip
from eagate.state import SessionDep, StateDep

public = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["accounts"])
router = APIRouter(prefix=f"{API_PREFIX}/clients", tags=["accounts"])


@public.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOut,
    responses=problem_responses(409),
)
async def sign_up(body: SignupRequest, session: SessionDep, state: StateDep) -> ClientOut:
    """Create an owner account."""
    client = await service.sign_up(
        session,
        email=body.email,
        password=body.password,
        passwords=state.passwords,
        now=state.clock.now(),
    )
    return ClientOut.model_validate(client)


@public.post("/token", response_model=TokenOut, responses=problem_responses(401, 429))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    state: StateDep,
    request: Request,
    response: Response,
) -> TokenOut:
    """Exchange email (as `username`) and password for a bearer access token."""
    client = await service.authenticate(
        session,
        email=form.username.strip().lower(),
        password=form.password,
        passwords=state.passwords,
        throttle=state.throttle,
        ip=client_ip(request),
    )
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1
    token = issue_access_token(
        client_id=client.id,
        key=state.keys.jwt_secret,
        now=state.clock.now(),
        ttl_seconds=state.settings.access_token_ttl_seconds,
    )
    return TokenOut(access_token=token.token, expires_in=token.expires_in)


@router.get("/me", response_model=ClientOut)
async def read_me(owner: CurrentOwner) -> ClientOut:
    """The signed-in owner's account."""
    return ClientOut.model_validate(owner)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(owner: CurrentOwner, session: SessionDep, state: StateDep) -> Response:
    """Delete the account and, by database cascade, everything it owns."""
    await service.delete_client(session, owner.id, now=state.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
