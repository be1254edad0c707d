"""Templates, the headers every dashboard page carries, and HTML error pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from eagate.kit.problems import ProblemError
from eagate.web import presenters

UI_PREFIX = "/ui"

# Scripts and styles come from /ui/static only: no inline script or style, no CDN.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("eagate.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals.update(
    time_tag=presenters.time_tag,
    iso_time=presenters.iso_time,
    duration_text=presenters.duration_text,
    span_text=presenters.span_text,
    action_label=presenters.action_label,
)
templates = Jinja2Templates(env=_environment)


def page_headers(*, no_store: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        # Pages show an owner's data: never kept by a shared cache; those showing a secret
        # are not kept at all (nor offered again by the back button from disk).
        "Cache-Control": "no-store" if no_store else "private, no-cache",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    no_store: bool = False,
) -> Response:
    context = {"viewer": None, "notice": None, "section": None, **context}
    return templates.TemplateResponse(
        request,
        template,
        context,
        status_code=status_code,
        headers=page_headers(no_store=no_store),
    )


# Fixed texts for `?notice=`: a redirect says what happened without echoing any input.
NOTICES = {
    "signed_out": "You are signed out.",
    "renamed": "Device renamed.",
    "revoked": "Device revoked. Its next request will be refused.",
    "signal_sent": "Test signal sent. Its deliveries update below as devices poll and ack.",
}


def notice_text(code: str | None) -> str | None:
    return NOTICES.get(code or "")


def redirect(path: str) -> RedirectResponse:
    """After a form: see the result with a GET, so reloading it sends nothing again."""
    return RedirectResponse(path, status_code=303)


class EarlyResponse(Exception):
    """Ends a dashboard request with a ready response: a redirect to sign in, a refused form,
    an error page. Raised only before the request has written anything."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def error_page(request: Request, *, status_code: int, title: str, detail: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": title, "detail": detail},
        status_code=status_code,
    )


def problem_page(request: Request, error: ProblemError) -> Response:
    return error_page(request, status_code=error.status, title=error.title, detail=error.detail)


class WebRoute(APIRoute):
    """A dashboard route: its errors are HTML pages, not problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_with_error_pages(request: Request) -> Response:
            try:
                return await handle(request)
            except EarlyResponse as early:
                return early.response
            except RequestValidationError as error:
                # Parameters are checked before the route runs: nothing was written.
                if any(problem["loc"][:1] == ("path",) for problem in error.errors()):
                    return error_page(
                        request,
                        status_code=404,
                        title="Page not found",
                        detail="There is no such page.",
                    )
                return error_page(
                    request,
                    status_code=400,
                    title="Bad request",
                    detail="This address or form is not one the dashboard made.",
                )
            except ProblemError as error:
                if request.method not in ("GET", "HEAD"):
                    # A form route handles its own domain errors inside a savepoint; one that
                    # got here may follow writes, so the transaction must see it and roll back.
                    raise
                return problem_page(request, error)

        return handle_with_error_pages
