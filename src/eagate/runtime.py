"""The running service, built in one place.

``build_core`` is what every entry point builds first (keys, database, secret box, the hooks
that join the domains): the server and the operator commands (``eagate clients|devices|keys``)
resolve keys and reach the database in exactly the same way. ``build_runtime`` adds what a
serving process needs (caches, coordination across instances, the device authenticator,
flushers), and ``Runtime.start``/``stop`` run and end its background work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from eagate.accounts import service as accounts
from eagate.accounts.security import Passwords, Tokens, build_passwords
from eagate.cluster.coordination import Coordination, Listeners, create_coordination
from eagate.cluster.throttle import Limits, Throttle
from eagate.device_api.activity import ActivityRecorder
from eagate.device_api.auth import DeviceAuthenticator
from eagate.device_api.credentials import CredentialCache
from eagate.device_api.failures import AuthFailureLog
from eagate.devices import changes as device_changes
from eagate.devices import service as devices
from eagate.devices.secrets import SecretBox
from eagate.kit.accesslog import AccessLog, RequestIds
from eagate.kit.clock import Clock
from eagate.kit.db import Database
from eagate.kit.keys import ServerKeys, load_server_keys
from eagate.kit.loops import every
from eagate.kit.metrics import Metrics
from eagate.settings import Settings
from eagate.signals import service as signals
from eagate.signals.delivery import DeliveryClaimer, DeliveryHub

log = logging.getLogger("eagate")

# How often the credential outbox is pruned, in watch intervals (0.5 s each by default).
_PRUNE_EVERY_WATCHES = 600
# Counting every delivery for /metrics is a scan: at most one per this many seconds.
_DELIVERY_COUNTS_TTL = 10.0


def wire_domains() -> None:
    """Join the domains where one's act is another's concern, without importing upwards."""
    if device_changes.record_owner_devices_gone not in accounts.owner_deletion_hooks:
        accounts.owner_deletion_hooks.append(device_changes.record_owner_devices_gone)
    if signals.cancel_deliveries_of_device not in devices.revocation_hooks:
        devices.revocation_hooks.append(signals.cancel_deliveries_of_device)


@dataclass(frozen=True, repr=False)
class Core:
    settings: Settings
    keys: ServerKeys
    database: Database
    secret_box: SecretBox


def build_core(settings: Settings) -> Core:
    """Resolve the keys (KeyConfigurationError if unusable), then the database and secret box."""
    wire_domains()
    keys = load_server_keys(settings)
    return Core(
        settings=settings,
        keys=keys,
        database=Database(settings.resolved_database_url),
        secret_box=SecretBox(keys.master_key, keys.previous_master_keys),
    )


@dataclass
class Runtime:
    """Every long-lived part of a serving process; routes reach them by type
    (``eagate.http.dependencies.component``)."""

    settings: Settings
    database: Database
    keys: ServerKeys
    secret_box: SecretBox
    passwords: Passwords
    tokens: Tokens
    clock: Clock
    credentials: CredentialCache
    coordination: Coordination
    device_auth: DeviceAuthenticator
    activity: ActivityRecorder
    deliveries: DeliveryHub
    claimer: DeliveryClaimer
    access_log: AccessLog
    metrics: Metrics
    throttle: Throttle
    auth_failures: AuthFailureLog
    request_ids: RequestIds
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    def components(self) -> dict[Any, Any]:
        """Each part under its declared type, as ``component()`` looks them up."""
        hints = get_type_hints(type(self))
        return {
            hints[name]: getattr(self, name)
            for name in self.__dataclass_fields__
            if not name.startswith("_") and isinstance(hints[name], type)
        }

    async def start(self) -> None:
        device_changes.subscribe(self.coordination.devices_changed)
        credentials = self.credentials
        loops = {
            "credential-watcher": every(
                credentials.watch_interval,
                credentials.watch_once,
                what="reading the credential outbox",
                # Rather than risk serving a revoked device from a stale entry.
                on_failure=credentials.clear,
            ),
            "credential-outbox-pruner": every(
                credentials.watch_interval * _PRUNE_EVERY_WATCHES,
                credentials.prune_outbox,
                what="pruning the credential outbox",
            ),
            "activity-flusher": every(
                self.activity.interval, self.activity.flush, what="the activity flush"
            ),
            "access-log-writer": every(
                self.access_log.flush_interval, self.access_log.flush, what="the access log"
            ),
            "auth-failure-audit": every(
                self.auth_failures.interval,
                self.auth_failures.flush,
                what="writing device.auth_failed events",
            ),
            "coordination": self.coordination.run(),
        }
        self._background = [asyncio.create_task(work, name=n) for n, work in loops.items()]

    async def stop(self) -> None:
        await stop_tasks(self._background, within=5.0)
        device_changes.unsubscribe(self.coordination.devices_changed)
        # Graceful shutdown: what devices did in the last interval is not lost.
        await self.activity.flush()
        await self.auth_failures.flush()
        self.access_log.flush()
        await self.coordination.aclose()
        await self.database.dispose()
        self.passwords.close()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    core = build_core(settings)  # the same keys and database as the operator commands
    database = core.database
    clock = clock or Clock()
    credentials = CredentialCache(database, core.secret_box, clock)
    deliveries = DeliveryHub(max_idle_seconds=60 if settings.redis_url else None)
    listeners = Listeners(
        devices_changed=credentials.invalidate,
        wake=deliveries.announce,
        credentials_unsure=credentials.clear,
        wake_ups_missed=deliveries.forget_idle,
    )
    coordination = create_coordination(settings.redis_url, listeners, clock)
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
    metrics.before_scrape.append(_delivery_counter(database, clock, metrics))
    return Runtime(
        settings=settings,
        database=database,
        keys=core.keys,
        secret_box=core.secret_box,
        passwords=build_passwords(settings),
        tokens=Tokens(core.keys.jwt_secret, settings.access_token_ttl_seconds),
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


def _delivery_counter(database: Database, clock: Clock, metrics: Metrics) -> Any:
    counted_at = -_DELIVERY_COUNTS_TTL

    async def refresh() -> None:
        nonlocal counted_at
        if clock.time() - counted_at < _DELIVERY_COUNTS_TTL:
            return  # however often we are scraped
        async with database.transaction(read_only=True) as session:
            counts = await signals.delivery_counts(session, now=clock.now())
        counted_at = clock.time()
        metrics.deliveries_by_status = lambda: counts

    return refresh


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
