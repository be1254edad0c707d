"""Signals: the ones sent, with what became of each delivery, and sending a test signal."""

from __future__ import annotations

import json
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.audit.service import Actor
from eagate.devices import service as devices_service
from eagate.http.dependencies import SessionDep, client_ip
from eagate.http.paging import PageDep
from eagate.kit.paging import PageRequest
from eagate.kit.problems import ProblemError
from eagate.signals import service as signals_service
from eagate.signals.errors import IdempotencyKeyReused
from eagate.signals.schemas import SignalCreate
from eagate.web.dependencies import Dashboard, DashboardDep, SignedIn, SignedInForm, Viewer
from eagate.web.forms import Invalid, attempt, form_number, parse_form
from eagate.web.presenters import elapsed_ms, next_cursor
from eagate.web.queries import device_names
from eagate.web.rendering import UI_PREFIX, WebRoute, notice_text, redirect, render

router = APIRouter(prefix=UI_PREFIX, route_class=WebRoute)

_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_ALL_DEVICES = "all"
_LABELS = {
    "instrument": "Instrument",
    "side": "Side",
    "volume": "Volume",
    "device_ids.0": "Send to",
}


async def _signals_context(
    session: AsyncSession, services: Dashboard, viewer: Viewer, page: PageRequest
) -> dict[str, Any]:
    now = services.clock.now()
    owner_id = viewer.owner.id
    result = await signals_service.list_signals(session, client_id=owner_id, page=page, now=now)
    return {
        "viewer": viewer,
        "signals": result.items,
        "next_cursor": next_cursor(result.next_after),
        "first_page": page.after is None,
        "device_names": await device_names(session, owner_id),
        "elapsed_ms": elapsed_ms,
        "now": now,
    }


@router.get("/signals")
async def signals_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    services: DashboardDep,
    page: PageDep,
    notice: Annotated[str | None, Query()] = None,
) -> Response:
    """Signals sent, newest first, with what became of each delivery."""
    context = await _signals_context(session, services, viewer, page)
    return render(
        request,
        "signals.html",
        {**context, "section": "signals", "notice": notice_text(notice)},
    )


@router.get("/signals/table")
async def signals_table(
    request: Request, viewer: SignedIn, session: SessionDep, services: DashboardDep, page: PageDep
) -> Response:
    """The newest signals alone, refreshed in place every few seconds."""
    context = await _signals_context(session, services, viewer, page)
    return render(request, "_signals_table.html", context)


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


@router.get("/signals/new")
async def send_signal_page(
    request: Request,
    viewer: SignedIn,
    session: SessionDep,
    device_id: Annotated[str, Query(max_length=64)] = _ALL_DEVICES,
) -> Response:
    """The form to send a test signal to one device or to all."""
    values = {"instrument": "EURUSD", "side": "buy", "volume": "0.01", "target": device_id}
    return await _signal_form(request, viewer, session, values=values)


@router.post("/signals")
async def send_signal(
    request: Request,
    viewer: SignedInForm,
    session: SessionDep,
    services: DashboardDep,
    instrument: Annotated[str, Form(max_length=1024)] = "",
    side: Annotated[str, Form(max_length=16)] = "",
    volume: Annotated[str, Form(max_length=64)] = "",
    target: Annotated[str, Form(max_length=64)] = _ALL_DEVICES,
    form_key: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Send a test signal (a real signal: the EA acts on it like on any other)."""

    async def form_again(errors: list[str], status_code: int) -> Response:
        values = {"instrument": instrument, "side": side, "volume": volume, "target": target}
        return await _signal_form(
            request, viewer, session, values=values, errors=errors, status_code=status_code
        )

    # The body the API would have received: the form's number as an exact Decimal.
    payload: dict[str, Any] = {
        "instrument": instrument.strip(),
        "side": side,
        "volume": form_number(volume),
        "comment": "eagate dashboard test",
    }
    if target != _ALL_DEVICES:
        payload["device_ids"] = [target]
    body = parse_form(SignalCreate, payload, labels=_LABELS)
    if isinstance(body, Invalid):
        return await form_again(body.messages, 422)
    idempotency_key = f"dashboard-{form_key}" if _FORM_KEY.match(form_key) else None
    outcome = await attempt(
        lambda: signals_service.create_signal(
            session,
            client_id=viewer.owner.id,
            request=body,
            idempotency_key=idempotency_key,
            fingerprint=signals_service.request_fingerprint(payload),
            wake=services.coordination.wake,
            actor=Actor.client(viewer.owner.id, client_ip(request)),
            now=services.clock.now(),
        ),
        savepoint=session,
    )
    if isinstance(outcome, IdempotencyKeyReused):
        message = "This form was already used to send another signal: check it, then send again."
        return await form_again([message], 409)
    if isinstance(outcome, ProblemError):
        return await form_again([outcome.detail], outcome.status)
    signal_id = json.loads(outcome.body)["id"]
    return redirect(f"{UI_PREFIX}/signals?notice=signal_sent#signal-{signal_id}")
