from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from eagate.accounts import flows, service
from eagate.accounts.dependencies import (
    CurrentOwner,
    CurrentPrincipal,
    FlowsDep,
    PrincipalOutsideTransaction,
)
from eagate.accounts.schemas import (
    AccessToken,
    AccountDeletion,
    Owner,
    PasswordChange,
    PasswordGrant,
    Session,
    SignupRequest,
)
from eagate.http.dependencies import ClockDep, SessionDep, client_ip
from eagate.http.openapi import problem_responses
from eagate.http.paging import PageDep, set_next_link
from eagate.http.paths import API_PREFIX

public = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["accounts"])
sessions = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["accounts"])
router = APIRouter(prefix=f"{API_PREFIX}/clients", tags=["accounts"])

# Password routes may be refused before the password is checked: too many attempts (429), or
# too many passwords being checked at once (503, Retry-After).
HASHING = (429, 503)


@public.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=Owner,
    responses=problem_responses(409, *HASHING),
)
async def sign_up(body: SignupRequest, ctx: FlowsDep, request: Request) -> Owner:
    """Create an owner account."""
    client = await flows.sign_up(
        ctx, email=body.email, password=body.password, ip=client_ip(request)
    )
    return Owner.model_validate(client)


@public.post("/token", response_model=AccessToken, responses=problem_responses(401, 403, *HASHING))
async def issue_token(
    form: Annotated[PasswordGrant, Form()],
    ctx: FlowsDep,
    request: Request,
    response: Response,
) -> AccessToken:
    """Exchange email (as `username`) and password for a bearer access token (a new session)."""
    signed_in = await flows.sign_in(
        ctx,
        email=form.username.strip().lower(),
        password=form.password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1
    return AccessToken(access_token=signed_in.token.token, expires_in=signed_in.token.expires_in)


@sessions.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(principal: CurrentPrincipal, session: SessionDep, clock: ClockDep) -> Response:
    """Sign out: revoke the presented token's session, on every instance."""
    await service.revoke_session(
        session,
        client_id=principal.client.id,
        session_id=principal.session_id,
        now=clock.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@sessions.get("/sessions", response_model=list[Session])
async def list_sessions(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> list[Session]:
    """The owner's live sessions, newest first; `current` marks this token's."""
    result = await service.list_sessions(
        session, client_id=principal.client.id, page=page, now=clock.now()
    )
    set_next_link(request, response, result.next_after)
    return [
        Session(
            id=item.id,
            created_at=item.created_at,
            last_used_at=item.last_used_at,
            ip=item.ip,
            user_agent=item.user_agent,
            current=item.id == principal.session_id,
        )
        for item in result.items
    ]


@sessions.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
async def revoke_session(
    session_id: uuid.UUID, owner: CurrentOwner, session: SessionDep, clock: ClockDep
) -> Response:
    """Revoke one of the owner's sessions (sign it out), on every instance."""
    await service.revoke_session(
        session, client_id=owner.id, session_id=session_id, now=clock.now()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Owner)
async def get_account(owner: CurrentOwner) -> Owner:
    """The signed-in owner's account."""
    return Owner.model_validate(owner)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(403, *HASHING),
)
async def change_password(
    body: PasswordChange, principal: PrincipalOutsideTransaction, ctx: FlowsDep, request: Request
) -> Response:
    """Change the password; every other session is revoked."""
    await flows.change_password(
        ctx,
        client_id=principal.client.id,
        session_id=principal.session_id,
        current_password=body.current_password,
        new_password=body.new_password,
        ip=client_ip(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(403, *HASHING)
)
async def delete_account(
    body: AccountDeletion, principal: PrincipalOutsideTransaction, ctx: FlowsDep, request: Request
) -> Response:
    """Delete the account (its password confirms) and, by database cascade, everything it
    owns."""
    await flows.delete_account(
        ctx, client_id=principal.client.id, password=body.password, ip=client_ip(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
