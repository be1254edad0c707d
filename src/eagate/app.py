"""create_app(): settings, keys, database, middleware, error handlers, routers."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from eagate import ops
from eagate.accesslog import AccessLog, RequestIds
from eagate.accounts import router as accounts
from eagate.api import API_PREFIX
from eagate.asgi import EagateApp
from eagate.audit import router as audit
from eagate.clock import Clock
from eagate.coordination import create_coordination
from eagate.core import build_core, build_passwords
from eagate.db import DatabaseBusy
from eagate.device_api import router as device_api
from eagate.device_api.activity import ActivityRecorder
from eagate.device_api.auth import DeviceAuthenticator
from eagate.device_api.credentials import CredentialCache
from eagate.device_api.failures import AuthFailureLog
from eagate.device_api.openapi import document_poll_route
from eagate.devices import changes as device_changes
from eagate.devices import router as devices
from eagate.errors import (
    DatabaseBusyProblem,
    MalformedJson,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
    internal_error_body,
    problem_response,
)
from eagate.logs import configure_logging
from eagate.metrics import Metrics
from eagate.openapi import problem_responses
from eagate.settings import Settings
from eagate.signals import router as signals
from eagate.signals.delivery import DeliveryClaimer, DeliveryHub
from eagate.state import AppState
from eagate.throttle import Limits, Throttle
from eagate.web import router as web

log = logging.getLogger("eagate")


def build_state(settings: Settings, clock: Clock | None = None) -> AppState:
    core = build_core(settings)  # the same keys and database as the operator commands
    keys, database, secret_box = core.keys, core.database, core.secret_box
    clock = clock or Clock()
    credentials = CredentialCache(database, secret_box, clock)
    deliveries = DeliveryHub(max_idle_seconds=60 if settings.redis_url else None)
    coordination = create_coordination(settings.redis_url, credentials, deliveries, clock)
    credentials.token_source = coordination.auth_token if settings.redis_url else None
    throttle = Throttle(
        coordination,
        clock,
        Limits(
            device_failures_per_ip=settings.device_auth_failures_per_ip,
            device_failures_per_device=settings.device_auth_failures_per_device,
            device_window=settings.device_auth_window_seconds,
            sign_in_failures_per_ip=settings.sign_in_failures_per_ip,
            sign_in_failures_per_email=settings.sign_in_failures_per_email,
            sign_in_window=settings.sign_in_window_seconds,
            sign_ups_per_ip=settings.sign_ups_per_ip,
            sign_up_window=settings.sign_up_window_seconds,
        ),
    )
    auth_failures = AuthFailureLog(database, clock)
    metrics = Metrics()
    metrics.long_polls = lambda: deliveries.long_polls
    return AppState(
        settings=settings,
        database=database,
        keys=keys,
        secret_box=secret_box,
        passwords=build_passwords(settings),
        clock=clock,
        credentials=credentials,
        coordination=coordination,
        device_auth=DeviceAuthenticator(
            credentials=credentials,
            coordination=coordination,
            database=database,
            clock=clock,
            window_seconds=settings.signature_window_seconds,
            throttle=throttle,
            failures=auth_failures,
            metrics=metrics,
        ),
        metrics=metrics,
        throttle=throttle,
        auth_failures=auth_failures,
        activity=ActivityRecorder(database, interval=settings.activity_flush_seconds),
        deliveries=deliveries,
        claimer=DeliveryClaimer(database, clock, lease_seconds=settings.delivery_lease_seconds),
        access_log=AccessLog(
            enabled=logging.getLevelName(settings.log_level.upper()) <= logging.INFO
        ),
        request_ids=RequestIds(),
    )


def serve_app() -> EagateApp:
    """The factory `eagate serve` hands to uvicorn: settings from the environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything built so far (framework, models, schemas) lives as long as the process:
    # move it out of the collector's sight so collections stay short on the hot path.
    gc.collect()
    gc.freeze()
    return app


async def stop_tasks(tasks: list[asyncio.Task[None]], *, within: float) -> None:
    """Cancel background tasks and wait for them to end, for at most ``within`` seconds.

    One cancellation is not always enough: on Python 3.11, ``asyncio.wait_for`` (redis-py and
    asyncpg use it) drops a cancellation that arrives as its inner call completes, and the
    loop around it then runs on. So cancel again until every task has ended; shutdown must
    never wait forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pending = set(tasks)
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.2, deadline - loop.time()))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())
    if pending:
        log.error("background tasks still running at shutdown: %s", [t.get_name() for t in pending])


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> EagateApp:
    settings = settings or Settings()
    state = build_state(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        device_changes.subscribe(state.coordination.devices_changed)
        background = [
            asyncio.create_task(state.credentials.run_watcher(), name="credential-watcher"),
            asyncio.create_task(state.activity.run(), name="activity-flusher"),
            asyncio.create_task(state.access_log.run(), name="access-log-writer"),
            asyncio.create_task(state.coordination.run(), name="coordination"),
            asyncio.create_task(state.auth_failures.run(), name="auth-failure-audit"),
        ]
        try:
            yield
        finally:
            await stop_tasks(background, within=5.0)
            device_changes.unsubscribe(state.coordination.devices_changed)
            # Graceful shutdown: what devices did in the last interval is not lost.
            await state.activity.flush()
            await state.auth_failures.flush()
            await state.coordination.aclose()
            await state.database.dispose()
            state.passwords.close()

    app = FastAPI(
        title="eagate",
        version="1.0.0",
        summary="Device registry and signed device API for MetaTrader 5 Expert Advisors",
        lifespan=lifespan,
        # No redirect from `/path/` to `/path`: Starlette builds its Location from the Host
        # header (host injection); an unknown path is a 404 like any other.
        redirect_slashes=False,
        # Any operation can meet these: bad JSON, oversized bodies, bad input, no credentials,
        # and (503) a write that waited too long for its turn on SQLite (database_busy).
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    app.state.eagate = state

    for router in (
        accounts.public,
        accounts.sessions,
        accounts.router,
        devices.router,
        signals.stats_router,
        audit.router,
        signals.router,
        device_api.router,
        ops.router,
        web.router,
    ):
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(packages=[("eagate.web", "static")]), name="ui-static")

    _install_error_handlers(app, state.clock)
    document_poll_route(app)
    return EagateApp(app, state)


def _install_error_handlers(app: FastAPI, clock: Clock) -> None:
    device_api_prefix = f"{API_PREFIX}/device/"

    def respond(
        request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        # SPEC 4: every device-API body carries the server's clock, errors included.
        if request.url.path.startswith(device_api_prefix):
            body.setdefault("server_time", int(clock.time()))
        return problem_response(status, body, headers)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return respond(request, exc.status, exc.body(), exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            return await on_problem(request, MalformedJson("the request body is not valid JSON"))
        # Messages only, never the offending input: it may be a password.
        field_errors = [
            {
                "field": ".".join(str(part) for part in error["loc"]),
                "message": str(error["msg"]).removeprefix("Value error, "),
            }
            for error in errors
        ]
        return await on_problem(
            request, ValidationFailed(_summary(field_errors), errors=field_errors)
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a JSON body that is not UTF-8.
            return await on_problem(request, MalformedJson("the request body is not UTF-8 JSON"))
        if exc.status_code == 413:
            return await on_problem(request, PayloadTooLarge(str(exc.detail)))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": code,
        }
        return respond(request, exc.status_code, body, dict(exc.headers or {}))

    async def on_database_busy(request: Request, exc: Exception) -> Response:
        return await on_problem(request, DatabaseBusyProblem(str(exc)))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return respond(request, 500, internal_error_body())

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DatabaseBusy, on_database_busy)
    app.add_exception_handler(Exception, on_unexpected)


def _summary(field_errors: list[dict[str, str]]) -> str:
    first = field_errors[0] if field_errors else {"field": "request", "message": "invalid"}
    more = f" (and {len(field_errors) - 1} more)" if len(field_errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"
