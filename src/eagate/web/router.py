"""The owner dashboard: sign-in, devices, signals and the audit log, rendered on the server.

Routes call the domain services directly, in the request's one transaction. A service call
that can fail with a domain error runs in a savepoint, so the form can be shown again with
the message while nothing of the failed attempt is kept.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accounts import flows as accounts_flows
from eagate.accounts import service as accounts_service
from eagate.accounts.dependencies import FlowsDep
from eagate.accounts.errors import AccountLocked, InvalidCredentials, PasswordHashingBusy
from eagate.accounts.schemas import SignupRequest
from eagate.audit import service as audit_service
from eagate.audit.service import Actor
from eagate.cluster.throttle import RateLimited
from eagate.devices import service as devices_service
from eagate.devices.errors import DeviceNotFound
from eagate.devices.models import Device
from eagate.devices.schemas import DeviceCreate, DeviceRename, DeviceRevoke
from eagate.http.dependencies import SessionDep, client_ip
from eagate.http.paging import PageDep
from eagate.kit.paging import PageRequest, encode_cursor
from eagate.kit.problems import ProblemError
from eagate.signals import service as signals_service
from eagate.signals.errors import IdempotencyKeyReused
from eagate.signals.schemas import SignalCreate
from eagate.web.dependencies import (
    Dashboard,
    DashboardDep,
    MaybeSignedIn,
    SignedIn,
    SignedInForm,
    Viewer,
    Visitor,
    VisitorForm,
    VisitorPage,
    end_session,
    own_origin,
    safe_next,
    start_session,
)
from eagate.web.presenters import (
    DeviceView,
    device_view,
    elapsed_ms,
    span_text,
    validation_messages,
)
from eagate.web.rendering import UI_PREFIX, WebRoute, error_page, render

router = APIRouter(include_in_schema=False)
pages = APIRouter(prefix=UI_PREFIX, route_class=WebRoute)


# Fixed texts for `?notice=`: a redirect says what happened without echoing any input.
NOTICES = {
    "signed_out": "You are signed out.",
    "renamed": "Device renamed.",
    "revoked": "Device revoked. Its next request will be refused.",
    "signal_sent": "Test signal sent. Its deliveries update below as devices poll and ack.",
}
_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_ALL_DEVICES = "all"


def _notice(code: str | None) -> str | None:
    return NOTICES.get(code or "")


def _form_number(text: str) -> Decimal | str:
    """A number typed into a form, exactly as typed (as the API reads a JSON number); the
    text itself when it is no number, for the schema to refuse."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text
    return number if number.is_finite() else text


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _problem_page(request: Request, error: ProblemError) -> Response:
    return error_page(request, status_code=error.status, title=error.title, detail=error.detail)


def _next_cursor(next_after: uuid.UUID | None) -> str | None:
    return encode_cursor(next_after) if next_after else None


async def _device_views(
    session: AsyncSession, state: Dashboard, owner_id: uuid.UUID, page: PageRequest, *, all_: bool
) -> tuple[list[DeviceView], str | None]:
    result = await devices_service.list_devices(
        session, client_id=owner_id, page=page, include_revoked=all_
    )
    now = state.clock.now()
    views = [
        device_view(device, now=now, next_poll_seconds=state.settings.next_poll_seconds)
        for device in result.items
    ]
    return views, _next_cursor(result.next_after)


async def _all_devices(session: AsyncSession, owner_id: uuid.UUID) -> list[Device]:
    """Every device of the owner's, revoked ones included, oldest first."""
    devices: list[Device] = []
    after: uuid.UUID | None = None
    while True:
        result = await devices_service.list_devices(
            session,
            client_id=owner_id,
            page=PageRequest(limit=200, after=after),
            include_revoked=True,
        )
        devices.extend(result.items)
        if result.next_after is None:
            return devices
        after = result.next_after


async def _device_names(session: AsyncSession, owner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {device.id: device.device_name for device in await _all_devices(session, owner_id)}


# --- entry ---------------------------------------------------------------------------------


@router.get("/")
async def root() -> RedirectResponse:
    """The dashboard is the server's home page."""
    return RedirectResponse(UI_PREFIX, status_code=307)


# --- sign-in, sign-up, sign-out --------------------------------------------------------------


def _too_many_attempts(retry_after: int) -> str:
    return f"Too many failed attempts: try again in {span_text(retry_after)}."


def _busy(retry_after: int) -> str:
    return f"The server is busy checking passwords: try again in {span_text(retry_after)}."


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


@pages.get("/signin")
async def sign_in_page(
    request: Request,
    viewer: MaybeSignedIn,
    visitor: VisitorPage,
    next_url: Annotated[str, Query(alias="next", max_length=2048)] = "",
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """The sign-in form (signed-in owners go straight to the dashboard)."""
    if viewer is not None:
        return _redirect(safe_next(next_url))
    return _sign_in_page(request, visitor, next_url=next_url, notice=_notice(notice))


@pages.post("/signin")
async def sign_in(
    request: Request,
    visitor: VisitorForm,
    ctx: FlowsDep,
    state: DashboardDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2048)] = "",
) -> Response:
    """Check email and password, then start a session."""

    def form_again(error: str, status_code: int, retry_after: int | None = None) -> Response:
        response = _sign_in_page(
            request, visitor, email=email, next_url=next_url, error=error, status_code=status_code
        )
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    # The same flow, so the same brute-force throttle and hashing bound, as the API's token
    # endpoint; no transaction is open while the password is checked.
    try:
        signed_in = await accounts_flows.sign_in(
            ctx,
            email=email.strip().lower(),
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except RateLimited as limited:
        retry_after = int(limited.headers["Retry-After"])
        return form_again(_too_many_attempts(retry_after), 429, retry_after)
    except PasswordHashingBusy as busy:
        retry_after = int(busy.headers["Retry-After"])
        return form_again(_busy(retry_after), 503, retry_after)
    except (InvalidCredentials, AccountLocked) as error:
        return form_again(error.title, 400 if isinstance(error, InvalidCredentials) else 403)
    token = signed_in.token
    response = _redirect(safe_next(next_url))
    start_session(request, response, token=token.token, max_age=token.expires_in)
    return response


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


@pages.get("/signup")
async def sign_up_page(request: Request, viewer: MaybeSignedIn, visitor: VisitorPage) -> Response:
    """The sign-up form (signed-in owners go straight to the dashboard)."""
    if viewer is not None:
        return _redirect(UI_PREFIX)
    return _sign_up_page(request, visitor)


@pages.post("/signup")
async def sign_up(
    request: Request,
    visitor: VisitorForm,
    ctx: FlowsDep,
    state: DashboardDep,
    email: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Create an owner account and sign it in."""
    try:
        signup = SignupRequest(email=email, password=password)
    except ValidationError as error:
        messages = validation_messages(error, {"email": "Email", "password": "Password"})
        return _sign_up_page(request, visitor, email=email, errors=messages, status_code=422)
    if not secrets.compare_digest(password.encode(), password_again.encode()):
        return _sign_up_page(
            request,
            visitor,
            email=email,
            errors=["Password: the two passwords differ"],
            status_code=422,
        )
    try:
        owner = await accounts_flows.sign_up(
            ctx, email=signup.email, password=signup.password, ip=client_ip(request)
        )
        signed_in = await accounts_flows.open_session(
            ctx,
            owner,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except ProblemError as error:
        response = _sign_up_page(
            request, visitor, email=email, errors=[error.title], status_code=error.status
        )
        if "Retry-After" in error.headers:
            response.headers["Retry-After"] = error.headers["Retry-After"]
        return response
    token = signed_in.token
    response = _redirect(UI_PREFIX)
    start_session(request, response, token=token.token, max_age=token.expires_in)
    return response


@pages.post("/signout")
async def sign_out(
    request: Request, viewer: SignedInForm, session: SessionDep, state: DashboardDep
) -> Response:
    """End the session: revoked on the server (the cookie's token is refused everywhere from
    now on), and forgotten by the browser."""
    await accounts_service.revoke_session(
        session, client_id=viewer.owner.id, session_id=viewer.session_id, now=state.clock.now()
    )
    response = _redirect(f"{UI_PREFIX}/signin?notice=signed_out")
    end_session(request, response)
    return response


# --- devices ---------------------------------------------------------------------------------


def _devices_context(
    request: Request,
    views: list[DeviceView],
    next_cursor: str | None,
    show_all: bool,
    state: Dashboard,
) -> dict[str, Any]:
    query = request.url.query
    return {
        "table_url": f"{UI_PREFIX}/devices/table" + (f"?{query}" if query else ""),
        "devices": views,
        "next_cursor": next_cursor,
        "show_all": show_all,
        "now": state.clock.now(),
        "counts": {
            status: sum(1 for view in views if view.status == status)
            for status in ("online", "late", "offline", "revoked")
        },
    }


@pages.get("")
async def devices_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
    page: PageDep,
    show: Annotated[str, Query(max_length=16)] = "active",
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """The owner's devices and how each is doing."""
    show_all = show == "all"
    views, next_cursor = await _device_views(session, state, viewer.owner.id, page, all_=show_all)
    context = _devices_context(request, views, next_cursor, show_all, state)
    return render(
        request,
        "devices.html",
        {**context, "viewer": viewer, "section": "devices", "notice": _notice(notice)},
    )


@pages.get("/devices/table")
async def devices_table(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
    page: PageDep,
    show: Annotated[str, Query(max_length=16)] = "active",
) -> Response:
    """The devices table alone, refreshed in place every few seconds."""
    show_all = show == "all"
    views, next_cursor = await _device_views(session, state, viewer.owner.id, page, all_=show_all)
    return render(
        request,
        "_devices_table.html",
        {**_devices_context(request, views, next_cursor, show_all, state), "viewer": viewer},
    )


@pages.get("/devices/new")
async def register_device_page(request: Request, viewer: SignedIn) -> Response:
    """The form to register a device."""
    return render(
        request,
        "register.html",
        {"viewer": viewer, "section": "devices", "device_name": "", "errors": []},
    )


def _secret_page(
    request: Request,
    viewer: Viewer,
    state: Dashboard,
    result: devices_service.DeviceWithNewSecret,
    *,
    rotated: bool,
) -> Response:
    return render(
        request,
        "secret.html",
        {
            "viewer": viewer,
            "section": "devices",
            "device": result.device,
            "secret": result.secret,
            "rotated": rotated,
            "origin": own_origin(request),
            "grace_seconds": state.settings.secret_grace_seconds,
        },
        status_code=201 if not rotated else 200,
        no_store=True,
    )


@pages.post("/devices")
async def register_device(
    request: Request,
    viewer: SignedInForm,
    session: SessionDep,
    state: DashboardDep,
    device_name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Register a device and show its secret, this once."""

    def form_again(errors: list[str], status_code: int) -> Response:
        context = {"viewer": viewer, "section": "devices", "device_name": device_name}
        return render(
            request, "register.html", {**context, "errors": errors}, status_code=status_code
        )

    try:
        body = DeviceCreate(device_name=device_name)
    except ValidationError as error:
        return form_again(validation_messages(error, {"device_name": "Name"}), 422)
    try:
        async with session.begin_nested():
            result = await devices_service.register(
                session,
                client_id=viewer.owner.id,
                device_name=body.device_name,
                secret_box=state.secret_box,
                actor=Actor.client(viewer.owner.id, client_ip(request)),
                now=state.clock.now(),
            )
    except ProblemError as error:
        return form_again([error.title], error.status)
    return _secret_page(request, viewer, state, result, rotated=False)


async def _device_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    state: Dashboard,
    device_id: uuid.UUID,
    *,
    rename_to: str | None = None,
    rename_errors: list[str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    device = await devices_service.get_device(
        session, client_id=viewer.owner.id, device_id=device_id
    )
    now = state.clock.now()
    stats = await signals_service.device_stats(
        session, client_id=viewer.owner.id, device_id=device_id, window=1000, now=now
    )
    return render(
        request,
        "device.html",
        {
            "viewer": viewer,
            "section": "devices",
            "view": device_view(
                device, now=now, next_poll_seconds=state.settings.next_poll_seconds
            ),
            "stats": stats,
            "now": now,
            "rename_to": device.device_name if rename_to is None else rename_to,
            "rename_errors": rename_errors or [],
            "notice": notice,
        },
        status_code=status_code,
    )


@pages.get("/devices/{device_id}")
async def device_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """One device: activity, delivery latency, and what can be done with it."""
    return await _device_page(request, viewer, session, state, device_id, notice=_notice(notice))


@pages.get("/devices/{device_id}/activity")
async def device_activity(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
) -> Response:
    """A device's status and last activity alone, refreshed in place."""
    device = await devices_service.get_device(
        session, client_id=viewer.owner.id, device_id=device_id
    )
    now = state.clock.now()
    view = device_view(device, now=now, next_poll_seconds=state.settings.next_poll_seconds)
    return render(request, "_device_activity.html", {"view": view, "now": now})


@pages.post("/devices/{device_id}/rename")
async def rename_device(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    state: DashboardDep,
    device_name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Rename a device."""
    try:
        body = DeviceRename(device_name=device_name)
    except ValidationError as error:
        return await _device_page(
            request,
            viewer,
            session,
            state,
            device_id,
            rename_to=device_name,
            rename_errors=validation_messages(error, {"device_name": "Name"}),
            status_code=422,
        )
    try:
        async with session.begin_nested():
            await devices_service.rename(
                session,
                client_id=viewer.owner.id,
                device_id=device_id,
                device_name=body.device_name,
                actor=Actor.client(viewer.owner.id, client_ip(request)),
                now=state.clock.now(),
            )
    except DeviceNotFound as error:
        return _problem_page(request, error)
    except ProblemError as error:
        return await _device_page(
            request,
            viewer,
            session,
            state,
            device_id,
            rename_to=device_name,
            rename_errors=[error.title],
            status_code=error.status,
        )
    return _redirect(f"{UI_PREFIX}/devices/{device_id}?notice=renamed")


async def _confirm_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    template: str,
    device_id: uuid.UUID,
    *,
    state: Dashboard,
    reason: str = "",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    device = await devices_service.get_device(
        session, client_id=viewer.owner.id, device_id=device_id
    )
    return render(
        request,
        template,
        {
            "viewer": viewer,
            "section": "devices",
            "device": device,
            "reason": reason,
            "errors": errors or [],
            "grace_seconds": state.settings.secret_grace_seconds,
        },
        status_code=status_code,
    )


@pages.get("/devices/{device_id}/revoke")
async def revoke_device_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
) -> Response:
    """Ask for a reason and a confirmation before revoking a device."""
    return await _confirm_page(request, viewer, session, "revoke.html", device_id, state=state)


@pages.post("/devices/{device_id}/revoke")
async def revoke_device(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    state: DashboardDep,
    reason: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Revoke a device for good."""
    try:
        body = DeviceRevoke(reason=reason.strip() or None)
    except ValidationError as error:
        return await _confirm_page(
            request,
            viewer,
            session,
            "revoke.html",
            device_id,
            state=state,
            reason=reason,
            errors=validation_messages(error, {"reason": "Reason"}),
            status_code=422,
        )
    try:
        async with session.begin_nested():
            await devices_service.revoke(
                session,
                client_id=viewer.owner.id,
                device_id=device_id,
                reason=body.reason,
                actor=Actor.client(viewer.owner.id, client_ip(request)),
                now=state.clock.now(),
            )
    except ProblemError as error:
        return _problem_page(request, error)
    return _redirect(f"{UI_PREFIX}/devices/{device_id}?notice=revoked")


@pages.get("/devices/{device_id}/rotate")
async def rotate_secret_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
) -> Response:
    """Explain what rotating a secret does, and ask for a confirmation."""
    return await _confirm_page(request, viewer, session, "rotate.html", device_id, state=state)


@pages.post("/devices/{device_id}/rotate")
async def rotate_secret(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    state: DashboardDep,
) -> Response:
    """Issue a new secret for a device and show it, this once."""
    try:
        async with session.begin_nested():
            result = await devices_service.rotate_secret(
                session,
                client_id=viewer.owner.id,
                device_id=device_id,
                secret_box=state.secret_box,
                grace_seconds=state.settings.secret_grace_seconds,
                actor=Actor.client(viewer.owner.id, client_ip(request)),
                now=state.clock.now(),
            )
    except DeviceNotFound as error:
        return _problem_page(request, error)
    except ProblemError as error:
        return await _confirm_page(
            request,
            viewer,
            session,
            "rotate.html",
            device_id,
            state=state,
            errors=[error.detail],
            status_code=error.status,
        )
    return _secret_page(request, viewer, state, result, rotated=True)


# --- signals ---------------------------------------------------------------------------------


async def _signals_context(
    session: AsyncSession, state: Dashboard, owner_id: uuid.UUID, page: PageRequest
) -> dict[str, Any]:
    now = state.clock.now()
    result = await signals_service.list_signals(session, client_id=owner_id, page=page, now=now)
    return {
        "signals": result.items,
        "next_cursor": _next_cursor(result.next_after),
        "first_page": page.after is None,
        "device_names": await _device_names(session, owner_id),
        "elapsed_ms": elapsed_ms,
        "now": now,
    }


@pages.get("/signals")
async def signals_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
    page: PageDep,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """Signals sent, newest first, with what became of each delivery."""
    context = await _signals_context(session, state, viewer.owner.id, page)
    return render(
        request,
        "signals.html",
        {**context, "viewer": viewer, "section": "signals", "notice": _notice(notice)},
    )


@pages.get("/signals/table")
async def signals_table(
    request: Request, viewer: SignedIn, session: SessionDep, state: DashboardDep, page: PageDep
) -> Response:
    """The newest signals alone, refreshed in place every few seconds."""
    context = await _signals_context(session, state, viewer.owner.id, page)
    return render(request, "_signals_table.html", {**context, "viewer": viewer})


async def _signal_form(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    *,
    values: dict[str, str],
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    devices = await devices_service.list_devices(
        session,
        client_id=viewer.owner.id,
        page=PageRequest(limit=200, after=None),
        include_revoked=False,
    )
    return render(
        request,
        "send_signal.html",
        {
            "viewer": viewer,
            "section": "signals",
            "devices": devices.items,
            "values": values,
            # A fresh key per form shown: sending the same form twice sends one signal.
            "form_key": secrets.token_urlsafe(18),
            "errors": errors or [],
        },
        status_code=status_code,
    )


@pages.get("/signals/new")
async def send_signal_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    device_id: Annotated[str, Query(max_length=64)] = _ALL_DEVICES,
) -> Response:
    """The form to send a test signal to one device or to all."""
    values = {"instrument": "EURUSD", "side": "buy", "volume": "0.01", "target": device_id}
    return await _signal_form(request, viewer, session, values=values)


@pages.post("/signals")
async def send_signal(
    request: Request,
    viewer: SignedInForm,
    session: SessionDep,
    state: DashboardDep,
    instrument: Annotated[str, Form(max_length=1024)] = "",
    side: Annotated[str, Form(max_length=16)] = "",
    volume: Annotated[str, Form(max_length=64)] = "",
    target: Annotated[str, Form(max_length=64)] = _ALL_DEVICES,
    form_key: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Send a test signal (a real signal: the EA acts on it like on any other)."""
    values = {"instrument": instrument, "side": side, "volume": volume, "target": target}
    # The body the API would have received: the form's number as an exact Decimal.
    payload: dict[str, Any] = {
        "instrument": instrument.strip(),
        "side": side,
        "volume": _form_number(volume),
        "comment": "eagate dashboard test",
    }
    if target != _ALL_DEVICES:
        payload["device_ids"] = [target]
    try:
        body = SignalCreate.model_validate(payload)
    except ValidationError as error:
        labels = {
            "instrument": "Instrument",
            "side": "Side",
            "volume": "Volume",
            "device_ids.0": "Send to",
        }
        return await _signal_form(
            request,
            viewer,
            session,
            values=values,
            errors=validation_messages(error, labels),
            status_code=422,
        )
    idempotency_key = f"dashboard-{form_key}" if _FORM_KEY.match(form_key) else None
    try:
        async with session.begin_nested():
            created = await signals_service.create_signal(
                session,
                client_id=viewer.owner.id,
                request=body,
                idempotency_key=idempotency_key,
                fingerprint=signals_service.request_fingerprint(payload),
                wake=state.coordination.wake,
                actor=Actor.client(viewer.owner.id, client_ip(request)),
                now=state.clock.now(),
            )
    except IdempotencyKeyReused:
        message = "This form was already used to send another signal: check it, then send again."
        return await _signal_form(
            request, viewer, session, values=values, errors=[message], status_code=409
        )
    except ProblemError as error:
        return await _signal_form(
            request, viewer, session, values=values, errors=[error.detail], status_code=error.status
        )
    signal_id = json.loads(created.body)["id"]
    return _redirect(f"{UI_PREFIX}/signals?notice=signal_sent#signal-{signal_id}")


# --- audit -----------------------------------------------------------------------------------


@pages.get("/audit")
async def audit_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    state: DashboardDep,
    page: PageDep,
    device_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """The owner's audit trail, newest first."""
    result = await audit_service.list_events(
        session, client_id=viewer.owner.id, page=page, device_id=device_id
    )
    return render(
        request,
        "audit.html",
        {
            "viewer": viewer,
            "section": "audit",
            "events": result.items,
            "next_cursor": _next_cursor(result.next_after),
            "device_id": device_id,
            "device_names": await _device_names(session, viewer.owner.id),
            "own_actor": f"client:{viewer.owner.id}",
            "now": state.clock.now(),
        },
    )


router.include_router(pages)
