"""create_app(): the only module that imports everything; it wires routes, edge and lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from eagate.accounts import router as accounts
from eagate.audit import router as audit
from eagate.device_api import router as device_api
from eagate.device_api.poll import POLL_PATH, PollHandler
from eagate.devices import router as devices
from eagate.http import operations
from eagate.http.edge import Edge
from eagate.http.openapi import install_document, operation_id, problem_responses
from eagate.http.problems import Problems
from eagate.kit.clock import Clock
from eagate.kit.logs import configure_logging
from eagate.runtime import Runtime, build_runtime
from eagate.settings import Settings
from eagate.signals import router as signals
from eagate.web import router as web


def serve_app() -> Edge:
    """The factory `eagate serve` hands to uvicorn: settings from the environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything built so far (framework, models, schemas) lives as long as the process:
    # move it out of the collector's sight so collections stay short on the hot path.
    gc.collect()
    gc.freeze()
    return app


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Edge:
    runtime = build_runtime(settings or Settings(), clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="eagate",
        version="1.0.0",
        summary="Device registry and signed device API for MetaTrader 5 Expert Advisors",
        lifespan=lifespan,
        # No redirect from `/path/` to `/path`: Starlette builds its Location from the Host
        # header (host injection); an unknown path is a 404 like any other.
        redirect_slashes=False,
        # Operation ids are the route functions' names (register_device), not FastAPI's
        # name + path + method: generated clients name their functions after them.
        generate_unique_id_function=operation_id,
        # Any operation can meet these: bad JSON, oversized bodies, bad input, no credentials,
        # and (503) a write that waited too long for its turn on SQLite (database_busy).
        responses=problem_responses(400, 401, 413, 422, 503),
    )
    app.state.components = runtime.components()  # what routes reach through dependencies
    app.state.runtime = runtime  # for operators' and tests' inspection

    for router in (
        accounts.public,
        accounts.sessions,
        accounts.router,
        devices.router,
        signals.stats_router,
        audit.router,
        signals.router,
        device_api.router,
        operations.router,
        web.router,
    ):
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(packages=[("eagate.web", "static")]), name="ui-static")

    problems = Problems(runtime.clock)
    problems.install(app)
    install_document(app)
    return Edge(
        app,
        clock=runtime.clock,
        problems=problems,
        access_log=runtime.access_log,
        metrics=runtime.metrics,
        request_ids=runtime.request_ids,
        max_body_bytes=runtime.settings.max_body_bytes,
        raw_routes={POLL_PATH: _poll_handler(runtime, problems)},
    )


def _poll_handler(runtime: Runtime, problems: Problems) -> PollHandler:
    return PollHandler(
        auth=runtime.device_auth,
        claimer=runtime.claimer,
        hub=runtime.deliveries,
        activity=runtime.activity,
        clock=runtime.clock,
        problems=problems,
        next_poll_seconds=runtime.settings.next_poll_seconds,
        long_polls_per_device=runtime.settings.long_polls_per_device,
    )
