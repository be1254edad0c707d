"""The dashboard's session cookie, and CSRF protection for its forms.

The session cookie holds the owner's access token (the API's JWT), HttpOnly and SameSite=Lax;
like a bearer token it names a server-side session, checked on every request, so signing out
revokes it (the cookie value, and the same value sent as a bearer token, are refused at once).
Every form carries a CSRF token: an HMAC, under the server's JWT secret, of the cookie the
form is bound to (the session cookie once signed in; before that, a random visitor cookie, so
the sign-in and sign-up forms cannot be posted from elsewhere either). A POST is refused with
403 when its token does not match, or when the browser says it came from another origin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from eagate.accounts.dependencies import TokenCheckDep, authenticate_token
from eagate.accounts.models import Client
from eagate.cluster.coordination import Coordination
from eagate.devices.dependencies import SecretBoxDep
from eagate.devices.secrets import SecretBox
from eagate.http.dependencies import ClockDep, KeysDep, SessionDep, SettingsDep
from eagate.kit.clock import Clock
from eagate.kit.problems import NotAuthenticated
from eagate.settings import Settings
from eagate.signals.dependencies import CoordinationDep
from eagate.web.rendering import UI_PREFIX, EarlyResponse, error_page

SESSION_COOKIE = "eagate_session"
VISITOR_COOKIE = "eagate_visitor"
CSRF_FIELD = "csrf_token"
_CSRF_LABEL = b"eagate-dashboard-csrf\x00"
_VISITOR_FORM = re.compile(r"[A-Za-z0-9_-]{32,64}")


def csrf_token_for(cookie_value: str, *, key: bytes) -> str:
    """The CSRF token of forms bound to this cookie value."""
    return hmac.new(key, _CSRF_LABEL + cookie_value.encode(), hashlib.sha256).hexdigest()


def _tokens_match(submitted: str, expected: str) -> bool:
    return hmac.compare_digest(submitted.encode(), expected.encode())


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def _from_another_origin(request: Request) -> bool:
    """What the browser says about where the request came from (no header: no objection)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != own_origin(request)  # "null" (an opaque origin) included
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" != own_origin(request)
    return False


def _refused(request: Request, detail: str) -> EarlyResponse:
    return EarlyResponse(
        error_page(request, status_code=403, title="Request refused", detail=detail)
    )


def require_same_origin(request: Request) -> None:
    if _from_another_origin(request):
        raise _refused(request, "This form was sent from another site.")


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards (htmx requests: the whole page)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": f"{UI_PREFIX}/signin"})
    target = f"{UI_PREFIX}/signin"
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": here})
    return RedirectResponse(target, status_code=303)


def safe_next(next_url: str | None) -> str:
    """Where to go after signing in: a dashboard path of this server, never another site."""
    if not next_url:
        return UI_PREFIX
    parts = urlsplit(next_url)
    if (
        parts.scheme
        or parts.netloc
        or "\\" in next_url
        or not (parts.path == UI_PREFIX or parts.path.startswith(UI_PREFIX + "/"))
    ):
        return UI_PREFIX
    return next_url


@dataclass(frozen=True)
class Viewer:
    """The signed-in owner, and the CSRF token its forms carry."""

    owner: Client
    csrf_token: str
    session_id: uuid.UUID


async def signed_in_owner(
    request: Request, check: TokenCheckDep, keys: KeysDep, session: SessionDep
) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = await authenticate_token(check, session, token)
    except NotAuthenticated:
        return None
    return Viewer(
        principal.client, csrf_token_for(token, key=keys.jwt_secret), principal.session_id
    )


async def require_owner(
    request: Request, viewer: Annotated[Viewer | None, Depends(signed_in_owner)]
) -> Viewer:
    if viewer is None:
        raise EarlyResponse(sign_in_redirect(request))
    return viewer


async def require_owner_form(
    request: Request,
    _same_origin: Annotated[None, Depends(require_same_origin)],
    viewer: Annotated[Viewer, Depends(require_owner)],
    csrf_token: Annotated[str, Form()] = "",
) -> Viewer:
    if not _tokens_match(csrf_token, viewer.csrf_token):
        raise _refused(request, "This form has expired. Go back, reload the page, and try again.")
    return viewer


MaybeSignedIn = Annotated[Viewer | None, Depends(signed_in_owner)]
SignedIn = Annotated[Viewer, Depends(require_owner)]
# A form POST by the signed-in owner: same origin, carrying the session's CSRF token.
SignedInForm = Annotated[Viewer, Depends(require_owner_form)]


@dataclass(frozen=True)
class Visitor:
    """Someone not signed in, known by a random cookie that binds the CSRF token of the
    sign-in and sign-up forms."""

    cookie_value: str
    csrf_token: str
    is_new: bool

    def keep_cookie(self, request: Request, response: Response) -> Response:
        if self.is_new:
            response.set_cookie(
                VISITOR_COOKIE,
                self.cookie_value,
                path=UI_PREFIX,
                secure=is_https(request),
                httponly=True,
                samesite="lax",
            )
        return response


def visitor(request: Request, keys: KeysDep) -> Visitor:
    value = request.cookies.get(VISITOR_COOKIE, "")
    is_new = not _VISITOR_FORM.fullmatch(value)
    if is_new:
        value = secrets.token_urlsafe(32)
    return Visitor(value, csrf_token_for(value, key=keys.jwt_secret), is_new)


def require_visitor_form(
    request: Request,
    _same_origin: Annotated[None, Depends(require_same_origin)],
    keys: KeysDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Visitor:
    value = request.cookies.get(VISITOR_COOKIE, "")
    if not _VISITOR_FORM.fullmatch(value) or not _tokens_match(
        csrf_token, csrf_token_for(value, key=keys.jwt_secret)
    ):
        raise _refused(
            request,
            "This form has expired, or cookies are blocked. Reload the page and try again.",
        )
    return Visitor(value, csrf_token, is_new=False)


VisitorPage = Annotated[Visitor, Depends(visitor)]
VisitorForm = Annotated[Visitor, Depends(require_visitor_form)]


def start_session(request: Request, response: Response, *, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=UI_PREFIX,
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(VISITOR_COOKIE, path=UI_PREFIX)


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=UI_PREFIX, secure=is_https(request), httponly=True, samesite="lax"
    )


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard's pages need from the running service."""

    settings: Settings
    clock: Clock
    secret_box: SecretBox
    coordination: Coordination


def dashboard(
    settings: SettingsDep, clock: ClockDep, secret_box: SecretBoxDep, coordination: CoordinationDep
) -> Dashboard:
    return Dashboard(settings, clock, secret_box, coordination)


DashboardDep = Annotated[Dashboard, Depends(dashboard)]
