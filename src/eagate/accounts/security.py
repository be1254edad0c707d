"""Password hashing (Argon2id) and access tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from eagate.accounts.errors import PasswordHashingBusy
from eagate.settings import Settings

T = TypeVar("T")

BUSY_RETRY_AFTER_SECONDS = 1


class HashingGate:
    """At most ``slots`` password hashes at once, and at most ``queue`` callers waiting (each
    for up to ``wait_seconds``) for one to finish; anyone else is refused at once with
    PasswordHashingBusy (503, ``Retry-After``).

    Each Argon2 hash takes ``memory_kib`` of memory and a core for ~0.1-0.2 s: bounding them
    bounds the server's memory and keeps the event loop's core for everything else. The short
    queue absorbs a burst (a few sign-ins arriving in the same instant) instead of refusing
    it; a waiter holds no memory, no thread and no database connection, and there are at most
    ``queue`` of them, so nothing grows without bound.
    """

    def __init__(self, *, slots: int, queue: int, wait_seconds: float) -> None:
        self.slots = slots
        self._queue = queue
        self._wait_seconds = wait_seconds
        self._semaphore = asyncio.Semaphore(slots)
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore.locked() and self._waiting >= self._queue:
            raise PasswordHashingBusy(BUSY_RETRY_AFTER_SECONDS)
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._semaphore.acquire()
        except TimeoutError:
            raise PasswordHashingBusy(BUSY_RETRY_AFTER_SECONDS) from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()


def _yield_to_the_event_loop() -> None:
    """Run this thread (and the lane threads Argon2 starts from it, which inherit it) at the
    lowest CPU priority: a hash uses the cores the event loop leaves idle, so sign-ins cannot
    slow down signals and polls however many arrive. (Linux schedules threads on their own:
    this affects this thread alone, not the process.)"""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


HASHING_NICENESS = 19


class Passwords:
    """Argon2id hashing (~0.2 s of CPU at the default cost) in low-priority threads of its
    own, through the gate. Callers hold no database transaction or connection while they
    await these."""

    def __init__(self, *, time_cost: int, memory_kib: int, gate: HashingGate | None = None) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self.gate = gate or HashingGate(slots=1, queue=8, wait_seconds=30.0)
        self._threads: ThreadPoolExecutor | None = None  # made on first use, again after close
        # Verified against when the email is unknown, so both paths cost one verification.
        self._dummy_hash = self._hasher.hash("eagate-dummy-password-for-equal-timing")

    async def _run(self, work: Callable[[], T]) -> T:
        async with self.gate.slot():
            if self._threads is None:
                self._threads = ThreadPoolExecutor(
                    max_workers=self.gate.slots,
                    thread_name_prefix="argon2",
                    initializer=_yield_to_the_event_loop,
                )
            done = asyncio.get_running_loop().run_in_executor(self._threads, work)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                # The slot is freed only when the hash is done, so a client that hangs up
                # cannot make room for more hashes than there are slots.
                await asyncio.wait([done])
                raise

    def close(self) -> None:
        """Let the hashing threads end (the server is stopping; an app that starts again
        gets new ones)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def verify() -> bool:
            try:
                self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False
            return password_hash is not None

        return await self._run(verify)


JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "eagate-owner"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    client_id: uuid.UUID
    session_id: uuid.UUID


class TokenRefused(Exception):
    """The token cannot be used; the message says why (it is shown as the 401's detail)."""


def issue_access_token(
    *,
    client_id: uuid.UUID,
    session_id: uuid.UUID,
    key: bytes,
    now: datetime,
    ttl_seconds: int,
) -> AccessToken:
    claims = {
        "sub": str(client_id),
        "jti": str(session_id),
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return AccessToken(jwt.encode(claims, key, algorithm=JWT_ALGORITHM), ttl_seconds)


def read_access_token(*, token: str, key: bytes, now: datetime) -> AccessClaims:
    """The account and session the token was issued for; TokenRefused if it is invalid or
    expired (whether its session still stands is for the caller to look up)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            # Expiry is checked below against our clock (injectable), not PyJWT's wall clock;
            # so is nothing else time-based.
            options={
                "require": ["sub", "jti", "exp", "iat", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        expires = int(claims["exp"])
        parsed = AccessClaims(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["jti"])))
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenRefused("the bearer token is invalid") from None
    if expires <= now.timestamp():
        raise TokenRefused("the bearer token has expired")
    return parsed


@dataclass(frozen=True, repr=False)
class Tokens:
    """The one issuer and reader of owners' access tokens (under the server's JWT secret)."""

    key: bytes
    ttl_seconds: int

    def issue(self, *, client_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> AccessToken:
        return issue_access_token(
            client_id=client_id,
            session_id=session_id,
            key=self.key,
            now=now,
            ttl_seconds=self.ttl_seconds,
        )

    def read(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a token this server issued and that has not expired; TokenRefused
        saying why not."""
        return read_access_token(token=token, key=self.key, now=now)


# What concurrent password hashes may take together, by default: each takes
# EAGATE_ARGON2_MEMORY_KIB (64 MiB by default), so the default bound is 3 at that cost.
HASHING_MEMORY_BUDGET_KIB = 192 * 1024


def default_hash_concurrency(memory_kib: int) -> int:
    """One hash per core this process may run on (a container's CPU set, not the host's) but
    one, which the event loop keeps, and no more than the memory budget holds; at least one.
    (Measured on 2 cores: with 2 hashes at once an unrelated POST /signals' p99 was 3.3-3.7x
    its quiet figure under 4 sign-in loops, with 1 it was 2.2-2.4x.)"""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, HASHING_MEMORY_BUDGET_KIB // memory_kib))


def build_passwords(settings: Settings) -> Passwords:
    """The password hasher the settings describe, with its concurrency bound."""
    return Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        gate=HashingGate(
            slots=settings.password_hash_concurrency
            or default_hash_concurrency(settings.argon2_memory_kib),
            queue=settings.password_hash_queue,
            wait_seconds=settings.password_hash_wait_seconds,
        ),
    )
