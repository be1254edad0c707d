"""What instances share: the replay cache, credential freshness and long-poll wake-ups.

``LocalCoordination`` keeps all of it in this process's memory: correct for one process (the
CLI refuses ``--workers > 1`` without Redis). ``RedisCoordination`` shares it through Redis so
any number of stateless instances behave as one:

- nonces: ``SET eagate:nonce:<device>:<nonce> NX EXAT <expiry>``, batched: every claim made
  in one event-loop tick travels in one pipeline;
- credential freshness: each device has a random token ``eagate:auth:<device>``, replaced
  after every committed change (rotate, revoke, rename, delete). The same pipeline reads it
  with the nonce, so a revocation made on any instance refuses the very next request on every
  other one, at no extra round trip. (Random tokens rather than counters: after a Redis
  restart a counter could come back to a value an instance has cached.)
- wake-ups: ``PUBLISH eagate:wake <device ids>``; every instance subscribes and wakes its
  long-polls. PostgreSQL LISTEN/NOTIFY could carry these too, but not for SQLite, and Redis
  is needed for the nonces anyway: one mechanism for every configuration.

If Redis cannot be reached, device requests fail closed (503 ``replay_cache_unavailable``,
``Retry-After``) while the owner API keeps working; redis-py reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from eagate.cluster.replay import MemoryReplayGuard
from eagate.kit.clock import Clock
from eagate.kit.problems import ProblemError

log = logging.getLogger("eagate.coordination")

WAKE_CHANNEL = "eagate:wake"
RETRY_AFTER_SECONDS = 5


class ReplayCacheUnavailable(ProblemError):
    status, code, title = 503, "replay_cache_unavailable", "Device requests are paused"


DeviceIds = Callable[[Sequence[uuid.UUID]], None]


@dataclass(frozen=True)
class Listeners:
    """What this process does when the cluster tells it something (wired by the runtime)."""

    devices_changed: DeviceIds  # drop the cached credentials of these devices
    wake: DeviceIds  # wake this process's long-polls of these devices
    credentials_unsure: Callable[[], None]  # contact lost: trust no cached credential
    wake_ups_missed: Callable[[], None]  # resubscribed: every device re-checks for work

    @classmethod
    def nobody(cls) -> Listeners:
        """For a process that only tells others (an operator command): it caches nothing."""

        def ignore(*_: object) -> None:
            return None

        return cls(ignore, ignore, ignore, ignore)


class Claim(NamedTuple):
    fresh: bool  # the nonce was not seen before
    auth_token: str | None  # the device's shared credential token, where there is one


class Coordination(Protocol):
    # Unix time from which every used nonce is known: requests signed earlier cannot be
    # checked for replay, so they are refused (timestamp_out_of_window).
    remembers_nonces_since: int

    def claim_now(self, device_key: str, nonce: str, *, until: int, now: int) -> Claim | None:
        """The claim when it can be decided without I/O, else None (then ``claim``)."""
        ...

    async def claim(self, device_key: str, nonce: str, *, until: int, now: int) -> Claim: ...

    async def auth_token(self, device_id: uuid.UUID) -> str | None: ...

    async def devices_changed(self, device_ids: Sequence[uuid.UUID]) -> None: ...

    async def wake(self, device_ids: Sequence[uuid.UUID]) -> None: ...

    async def count(self, key: str, *, window: int, delta: int = 1) -> int:
        """Add ``delta`` to a counter that lives ``window`` seconds; its new value."""
        ...

    async def run(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalCoordination:
    def __init__(self, listeners: Listeners, clock: Clock) -> None:
        self._clock = clock
        # The nonces live in this process's memory and die with it.
        self.remembers_nonces_since = int(clock.time())
        self._listeners = listeners
        self._replay = MemoryReplayGuard()
        self._counters: dict[str, tuple[float, int]] = {}

    def claim_now(self, device_key: str, nonce: str, *, until: int, now: int) -> Claim:
        return Claim(self._replay.claim(device_key, nonce, until=until, now=now), None)

    async def claim(self, device_key: str, nonce: str, *, until: int, now: int) -> Claim:
        return self.claim_now(device_key, nonce, until=until, now=now)

    async def auth_token(self, device_id: uuid.UUID) -> str | None:
        return None

    async def devices_changed(self, device_ids: Sequence[uuid.UUID]) -> None:
        self._listeners.devices_changed(device_ids)

    async def wake(self, device_ids: Sequence[uuid.UUID]) -> None:
        self._listeners.wake(device_ids)

    async def count(self, key: str, *, window: int, delta: int = 1) -> int:
        now = self._clock.time()
        expires, value = self._counters.get(key, (now + window, 0))
        if expires <= now:
            expires, value = now + window, 0
        value += delta
        self._counters[key] = (expires, value)
        if len(self._counters) > 100_000:  # an attack's worth of keys: forget the expired
            self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
        return value

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        return None


def _nonce_key(device_key: str, nonce: str) -> str:
    return f"eagate:nonce:{device_key}:{nonce}"


def _auth_key(device_key: uuid.UUID | str) -> str:
    return f"eagate:auth:{device_key}"


class RedisCoordination:
    def __init__(self, url: str, listeners: Listeners, *, timeout: float = 1.0) -> None:
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=15,
            decode_responses=True,
        )
        self._listeners = listeners
        # Redis keeps nonces across our restarts (run it with persistence, or accept that a
        # Redis restart opens a window-long replay gap, see SECURITY.md).
        self.remembers_nonces_since = 0
        self._batch: list[tuple[str, str, int, asyncio.Future[Claim]]] = []
        self._flushing: set[asyncio.Future[None]] = set()
        self._flush_scheduled = False

    def claim_now(self, device_key: str, nonce: str, *, until: int, now: int) -> None:
        return None  # always a round trip (batched with every other claim of this tick)

    async def claim(self, device_key: str, nonce: str, *, until: int, now: int) -> Claim:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Claim] = loop.create_future()
        self._batch.append((device_key, nonce, until, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._start_flush)
        return await future

    def _start_flush(self) -> None:
        batch, self._batch = self._batch, []
        self._flush_scheduled = False
        task = asyncio.ensure_future(self._flush(batch))
        self._flushing.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._flushing.discard)
        task.add_done_callback(_log_unexpected)

    async def _flush(self, batch: list[tuple[str, str, int, asyncio.Future[Claim]]]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for device_key, nonce, until, _ in batch:
                pipe.set(_nonce_key(device_key, nonce), 1, nx=True, exat=until)
                pipe.get(_auth_key(device_key))
            results = await pipe.execute()
        except BaseException as exc:
            # Nobody waits forever: every request of the batch hears of the failure.
            for *_, future in batch:
                if not future.done():
                    future.set_exception(
                        _unavailable() if isinstance(exc, RedisError | OSError) else exc
                    )
            if isinstance(exc, RedisError | OSError):
                log.warning("replay cache unreachable: %s", type(exc).__name__)
                # We may have missed changes while cut off: trust nothing cached.
                self._listeners.credentials_unsure()
                return
            raise
        for index, (*_, future) in enumerate(batch):
            if not future.done():
                future.set_result(Claim(bool(results[2 * index]), results[2 * index + 1]))

    async def auth_token(self, device_id: uuid.UUID) -> str | None:
        try:
            token = await self._redis.get(_auth_key(device_id))
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc
        return None if token is None else str(token)

    async def devices_changed(self, device_ids: Sequence[uuid.UUID]) -> None:
        """After commit: drop our copies and give each device a new token everyone checks.

        If Redis is down the other instances fail closed meanwhile, drop their caches when
        they reconnect, and the database outbox reaches them within a second anyway.
        """
        self._listeners.devices_changed(device_ids)
        pipe = self._redis.pipeline(transaction=False)
        for device_id in device_ids:
            pipe.set(_auth_key(device_id), os.urandom(8).hex(), ex=7 * 86400)
        await pipe.execute()

    async def wake(self, device_ids: Sequence[uuid.UUID]) -> None:
        self._listeners.wake(device_ids)  # our own long-polls need no round trip
        if device_ids:
            await self._redis.publish(WAKE_CHANNEL, ",".join(str(d) for d in device_ids))

    async def count(self, key: str, *, window: int, delta: int = 1) -> int:
        pipe = self._redis.pipeline(transaction=True)
        pipe.incrby(f"eagate:count:{key}", delta)
        pipe.expire(f"eagate:count:{key}", window, nx=True)
        try:
            value, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc
        return int(value)

    async def run(self) -> None:
        """Background task: wake local long-polls for signals created on any instance."""
        backoff = 0.1
        current = asyncio.current_task()
        assert current is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(WAKE_CHANNEL)
                # Wake-ups may have been missed while unsubscribed: every device re-checks.
                self._listeners.wake_ups_missed()
                backoff = 0.1
                while True:
                    if current.cancelling():  # one redis-py lost (see runtime.stop_tasks)
                        raise asyncio.CancelledError
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._listeners.wake(_device_ids(message["data"]))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("wake-up subscription lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        await self._redis.aclose()


def _device_ids(data: Any) -> list[uuid.UUID]:
    ids = []
    for part in str(data).split(","):
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            continue
    return ids


def _unavailable() -> ReplayCacheUnavailable:
    return ReplayCacheUnavailable(
        "the replay cache cannot be reached; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _log_unexpected(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("replay cache flush failed", exc_info=task.exception())


def create_coordination(redis_url: str | None, listeners: Listeners, clock: Clock) -> Coordination:
    if redis_url:
        return RedisCoordination(redis_url, listeners)
    return LocalCoordination(listeners, clock)
