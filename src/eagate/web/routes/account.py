"""Signing in, signing up and signing out.

Sign-in and sign-up run the account flows the API runs, so the same brute-force throttle and
password-hashing bound apply; those flows open their own short transactions, so no
transaction is open while a password is hashed or checked.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from eagate.accounts import flows as accounts_flows
from eagate.accounts import service as accounts_service
from eagate.accounts.dependencies import FlowsDep
from eagate.accounts.errors import AccountLocked, InvalidCredentials, PasswordHashingBusy
from eagate.accounts.schemas import SignupRequest
from eagate.cluster.throttle import RateLimited
from eagate.http.dependencies import SessionDep, client_ip
from eagate.kit.problems import ProblemError
from eagate.web.dependencies import (
    DashboardDep,
    MaybeSignedIn,
    SignedInForm,
    Visitor,
    VisitorForm,
    VisitorPage,
    end_session,
    safe_next,
    start_session,
)
from eagate.web.forms import Invalid, attempt, parse_form
from eagate.web.presenters import span_text
from eagate.web.rendering import UI_PREFIX, WebRoute, notice_text, redirect, render

router = APIRouter(prefix=UI_PREFIX, route_class=WebRoute)


def _wait_text(refusal: ProblemError) -> str:
    """How long the refusal's Retry-After asks to wait, as a person reads it."""
    return span_text(int(refusal.headers["Retry-After"]))


def _with_retry_after(response: Response, refusal: ProblemError) -> Response:
    """A refusal that says when to try again (throttled, busy) says it on the page too."""
    if "Retry-After" in refusal.headers:
        response.headers["Retry-After"] = refusal.headers["Retry-After"]
    return response


def _session_started(
    request: Request, signed_in: accounts_flows.SignedIn, *, then: str
) -> Response:
    """On to ``then``, carrying the new session's cookie."""
    response = redirect(then)
    token = signed_in.token
    start_session(request, response, token=token.token, max_age=token.expires_in)
    return response


def _sign_in_page(
    request: Request,
    visitor: Visitor,
    *,
    email: str = "",
    next_url: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        "signin.html",
        {
            "csrf_token": visitor.csrf_token,
            "email": email,
            "next_url": next_url,
            "errors": [error] if error else [],
            "notice": notice,
        },
        status_code=status_code,
    )
    return visitor.keep_cookie(request, response)


@router.get("/signin")
async def sign_in_page(
    request: Request,
    viewer: MaybeSignedIn,
    visitor: VisitorPage,
    next_url: Annotated[str, Query(alias="next", max_length=2048)] = "",
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """The sign-in form (signed-in owners go straight to the dashboard)."""
    if viewer is not None:
        return redirect(safe_next(next_url))
    return _sign_in_page(request, visitor, next_url=next_url, notice=notice_text(notice))


@router.post("/signin")
async def sign_in(
    request: Request,
    visitor: VisitorForm,
    ctx: FlowsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2048)] = "",
) -> Response:
    """Check email and password, then start a session."""

    def form_again(error: str, status_code: int, refusal: ProblemError) -> Response:
        page = _sign_in_page(
            request, visitor, email=email, next_url=next_url, error=error, status_code=status_code
        )
        return _with_retry_after(page, refusal)

    outcome = await attempt(
        lambda: accounts_flows.sign_in(
            ctx,
            email=email.strip().lower(),
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        ),
        savepoint=None,
    )
    if isinstance(outcome, RateLimited):
        message = f"Too many failed attempts: try again in {_wait_text(outcome)}."
        return form_again(message, 429, outcome)
    if isinstance(outcome, PasswordHashingBusy):
        message = f"The server is busy checking passwords: try again in {_wait_text(outcome)}."
        return form_again(message, 503, outcome)
    if isinstance(outcome, InvalidCredentials):
        # The form answers; a 401 would be an HTTP authentication challenge.
        return form_again(outcome.title, 400, outcome)
    if isinstance(outcome, AccountLocked):
        return form_again(outcome.title, 403, outcome)
    if isinstance(outcome, ProblemError):
        raise outcome  # nothing the form can explain (the database busy): the error response
    return _session_started(request, outcome, then=safe_next(next_url))


def _sign_up_page(
    request: Request,
    visitor: Visitor,
    *,
    email: str = "",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        "signup.html",
        {"csrf_token": visitor.csrf_token, "email": email, "errors": errors or []},
        status_code=status_code,
    )
    return visitor.keep_cookie(request, response)


@router.get("/signup")
async def sign_up_page(request: Request, viewer: MaybeSignedIn, visitor: VisitorPage) -> Response:
    """The sign-up form (signed-in owners go straight to the dashboard)."""
    if viewer is not None:
        return redirect(UI_PREFIX)
    return _sign_up_page(request, visitor)


@router.post("/signup")
async def sign_up(
    request: Request,
    visitor: VisitorForm,
    ctx: FlowsDep,
    email: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Create an owner account and sign it in."""

    def form_again(errors: list[str], status_code: int) -> Response:
        return _sign_up_page(request, visitor, email=email, errors=errors, status_code=status_code)

    signup = parse_form(
        SignupRequest,
        {"email": email, "password": password},
        labels={"email": "Email", "password": "Password"},
    )
    if isinstance(signup, Invalid):
        return form_again(signup.messages, 422)
    if not secrets.compare_digest(password.encode(), password_again.encode()):
        return form_again(["Password: the two passwords differ"], 422)

    async def sign_up_and_in() -> accounts_flows.SignedIn:
        # The password was just hashed for the new account: no second hash to sign in.
        owner = await accounts_flows.sign_up(
            ctx, email=signup.email, password=signup.password, ip=client_ip(request)
        )
        return await accounts_flows.open_session(
            ctx, owner, ip=client_ip(request), user_agent=request.headers.get("user-agent")
        )

    outcome = await attempt(sign_up_and_in, savepoint=None)
    if isinstance(outcome, ProblemError):
        return _with_retry_after(form_again([outcome.title], outcome.status), outcome)
    return _session_started(request, outcome, then=UI_PREFIX)


@router.post("/signout")
async def sign_out(
    request: Request, viewer: SignedInForm, session: SessionDep, services: DashboardDep
) -> Response:
    """End the session: revoked on the server (the cookie's token is refused everywhere from
    now on), and forgotten by the browser."""
    await accounts_service.revoke_session(
        session, client_id=viewer.owner.id, session_id=viewer.session_id, now=services.clock.now()
    )
    response = redirect(f"{UI_PREFIX}/signin?notice=signed_out")
    end_session(request, response)
    return response
