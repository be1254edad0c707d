"""Devices: the list (the dashboard's home), registering, renaming, revoking, rotating a
secret, and one device's activity."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit.service import Actor
from eagate.devices import service as devices_service
from eagate.devices.errors import DeviceNotFound
from eagate.devices.schemas import DeviceCreate, DeviceRename, DeviceRevoke
from eagate.http.dependencies import SessionDep, client_ip
from eagate.http.paging import PageDep
from eagate.kit.paging import PageRequest
from eagate.kit.problems import ProblemError
from eagate.signals import service as signals_service
from eagate.web.dependencies import (
    Dashboard,
    DashboardDep,
    SignedIn,
    SignedInForm,
    Viewer,
    own_origin,
)
from eagate.web.forms import Invalid, attempt, parse_form
from eagate.web.presenters import device_view, next_cursor
from eagate.web.rendering import (
    UI_PREFIX,
    WebRoute,
    notice_text,
    problem_page,
    redirect,
    render,
)

router = APIRouter(prefix=UI_PREFIX, route_class=WebRoute)

_NAME_LABEL = {"device_name": "Name"}


# --- the list ----------------------------------------------------------------------------------


async def _devices_context(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    services: Dashboard,
    page: PageRequest,
    show: str,
) -> dict[str, Any]:
    show_all = show == "all"
    result = await devices_service.list_devices(
        session, client_id=viewer.owner.id, page=page, include_revoked=show_all
    )
    now = services.clock.now()
    views = [
        device_view(device, now=now, next_poll_seconds=services.settings.next_poll_seconds)
        for device in result.items
    ]
    query = request.url.query
    return {
        "viewer": viewer,
        "table_url": f"{UI_PREFIX}/devices/table" + (f"?{query}" if query else ""),
        "devices": views,
        "next_cursor": next_cursor(result.next_after),
        "show_all": show_all,
        "now": now,
        "counts": {
            status: sum(1 for view in views if view.status == status)
            for status in ("online", "late", "offline", "revoked")
        },
    }


@router.get("")
async def devices_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
    page: PageDep,
    show: Annotated[str, Query(max_length=16)] = "active",
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """The owner's devices and how each is doing."""
    context = await _devices_context(request, viewer, session, services, page, show)
    return render(
        request,
        "devices.html",
        {**context, "section": "devices", "notice": notice_text(notice)},
    )


@router.get("/devices/table")
async def devices_table(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
    page: PageDep,
    show: Annotated[str, Query(max_length=16)] = "active",
) -> Response:
    """The devices table alone, refreshed in place every few seconds."""
    context = await _devices_context(request, viewer, session, services, page, show)
    return render(request, "_devices_table.html", context)


# --- registering --------------------------------------------------------------------------------


@router.get("/devices/new")
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
    services: Dashboard,
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
            "grace_seconds": services.settings.secret_grace_seconds,
        },
        status_code=201 if not rotated else 200,
        no_store=True,
    )


@router.post("/devices")
async def register_device(
    request: Request,
    viewer: SignedInForm,
    session: SessionDep,
    services: DashboardDep,
    device_name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Register a device and show its secret, this once."""

    def form_again(errors: list[str], status_code: int) -> Response:
        context = {"viewer": viewer, "section": "devices", "device_name": device_name}
        return render(
            request, "register.html", {**context, "errors": errors}, status_code=status_code
        )

    body = parse_form(DeviceCreate, {"device_name": device_name}, labels=_NAME_LABEL)
    if isinstance(body, Invalid):
        return form_again(body.messages, 422)
    outcome = await attempt(
        lambda: devices_service.register(
            session,
            client_id=viewer.owner.id,
            device_name=body.device_name,
            secret_box=services.secret_box,
            actor=Actor.client(viewer.owner.id, client_ip(request)),
            now=services.clock.now(),
        ),
        savepoint=session,
    )
    if isinstance(outcome, ProblemError):
        return form_again([outcome.title], outcome.status)
    return _secret_page(request, viewer, services, outcome, rotated=False)


# --- one device: its page, renaming -------------------------------------------------------------


async def _device_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    services: Dashboard,
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
    now = services.clock.now()
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
                device, now=now, next_poll_seconds=services.settings.next_poll_seconds
            ),
            "stats": stats,
            "now": now,
            "rename_to": device.device_name if rename_to is None else rename_to,
            "rename_errors": rename_errors or [],
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/devices/{device_id}")
async def device_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """One device: activity, delivery latency, and what can be done with it."""
    return await _device_page(
        request, viewer, session, services, device_id, notice=notice_text(notice)
    )


@router.get("/devices/{device_id}/activity")
async def device_activity(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
) -> Response:
    """A device's status and last activity alone, refreshed in place."""
    device = await devices_service.get_device(
        session, client_id=viewer.owner.id, device_id=device_id
    )
    now = services.clock.now()
    view = device_view(device, now=now, next_poll_seconds=services.settings.next_poll_seconds)
    return render(request, "_device_activity.html", {"view": view, "now": now})


@router.post("/devices/{device_id}/rename")
async def rename_device(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    services: DashboardDep,
    device_name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Rename a device."""

    async def form_again(errors: list[str], status_code: int) -> Response:
        return await _device_page(
            request,
            viewer,
            session,
            services,
            device_id,
            rename_to=device_name,
            rename_errors=errors,
            status_code=status_code,
        )

    body = parse_form(DeviceRename, {"device_name": device_name}, labels=_NAME_LABEL)
    if isinstance(body, Invalid):
        return await form_again(body.messages, 422)
    outcome = await attempt(
        lambda: devices_service.rename(
            session,
            client_id=viewer.owner.id,
            device_id=device_id,
            device_name=body.device_name,
            actor=Actor.client(viewer.owner.id, client_ip(request)),
            now=services.clock.now(),
        ),
        savepoint=session,
    )
    if isinstance(outcome, DeviceNotFound):
        return problem_page(request, outcome)  # no device, so no form to show again
    if isinstance(outcome, ProblemError):
        return await form_again([outcome.title], outcome.status)
    return redirect(f"{UI_PREFIX}/devices/{device_id}?notice=renamed")


# --- revoking, rotating the secret: a confirmation first ----------------------------------------


async def _confirm_page(
    request: Request,
    viewer: Viewer,
    session: AsyncSession,
    template: str,
    device_id: uuid.UUID,
    *,
    services: Dashboard,
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
            "grace_seconds": services.settings.secret_grace_seconds,
        },
        status_code=status_code,
    )


@router.get("/devices/{device_id}/revoke")
async def revoke_device_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
) -> Response:
    """Ask for a reason and a confirmation before revoking a device."""
    return await _confirm_page(
        request, viewer, session, "revoke.html", device_id, services=services
    )


@router.post("/devices/{device_id}/revoke")
async def revoke_device(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    services: DashboardDep,
    reason: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Revoke a device for good."""
    body = parse_form(DeviceRevoke, {"reason": reason.strip() or None}, labels={"reason": "Reason"})
    if isinstance(body, Invalid):
        return await _confirm_page(
            request,
            viewer,
            session,
            "revoke.html",
            device_id,
            services=services,
            reason=reason,
            errors=body.messages,
            status_code=422,
        )
    outcome = await attempt(
        lambda: devices_service.revoke(
            session,
            client_id=viewer.owner.id,
            device_id=device_id,
            reason=body.reason,
            actor=Actor.client(viewer.owner.id, client_ip(request)),
            now=services.clock.now(),
        ),
        savepoint=session,
    )
    # No refusal here is one a different reason could fix (an unknown device): an error page.
    if isinstance(outcome, ProblemError):
        return problem_page(request, outcome)
    return redirect(f"{UI_PREFIX}/devices/{device_id}?notice=revoked")


@router.get("/devices/{device_id}/rotate")
async def rotate_secret_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
) -> Response:
    """Explain what rotating a secret does, and ask for a confirmation."""
    return await _confirm_page(
        request, viewer, session, "rotate.html", device_id, services=services
    )


@router.post("/devices/{device_id}/rotate")
async def rotate_secret(
    request: Request,
    device_id: uuid.UUID,
    viewer: SignedInForm,
    session: SessionDep,
    services: DashboardDep,
) -> Response:
    """Issue a new secret for a device and show it, this once."""
    outcome = await attempt(
        lambda: devices_service.rotate_secret(
            session,
            client_id=viewer.owner.id,
            device_id=device_id,
            secret_box=services.secret_box,
            grace_seconds=services.settings.secret_grace_seconds,
            actor=Actor.client(viewer.owner.id, client_ip(request)),
            now=services.clock.now(),
        ),
        savepoint=session,
    )
    if isinstance(outcome, DeviceNotFound):
        return problem_page(request, outcome)
    if isinstance(outcome, ProblemError):
        # The detail says why (a revoked device gets no new secret), on the confirmation page.
        return await _confirm_page(
            request,
            viewer,
            session,
            "rotate.html",
            device_id,
            services=services,
            errors=[outcome.detail],
            status_code=outcome.status,
        )
    return _secret_page(request, viewer, services, outcome, rotated=True)
