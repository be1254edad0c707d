"""Password hashing under load (issue 10, defects 2-4), through the public API.

Argon2 is made slow deterministically: the app's hasher is wrapped so each hash or
verification waits, in its worker thread, until the test lets it go. While sign-ins and
sign-ups are parked there the tests look at what they hold (database connections, the SQLite
write lock) and at how many were let in at all.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from eagate.accounts.security import default_hash_concurrency
from tests.fixtures.api import API, assert_problem
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import PASSWORD, new_owner

T = TypeVar("T")
BOUND = 8.0  # seconds: anything the tests wait for must happen well within this


class ParkedHasher:
    """Wraps argon2's PasswordHasher: every call waits for ``release`` (in its own thread)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._lock = threading.Lock()
        self.entered = 0
        self.release = threading.Event()

    def _park(self) -> None:
        with self._lock:
            self.entered += 1
        if not self.release.wait(BOUND * 3):
            raise TimeoutError("the test never released the hasher")

    def hash(self, password: str) -> str:
        self._park()
        result: str = self._real.hash(password)
        return result

    def verify(self, password_hash: str, password: str) -> bool:
        self._park()
        result: bool = self._real.verify(password_hash, password)
        return result


@asynccontextmanager
async def parked_hashing(client: httpx.AsyncClient) -> AsyncIterator[ParkedHasher]:
    passwords = client.app.state.runtime.passwords  # type: ignore[attr-defined]
    real = passwords._hasher
    parked = ParkedHasher(real)
    passwords._hasher = parked
    try:
        yield parked
    finally:
        parked.release.set()
        passwords._hasher = real


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def bounded(awaitable: Awaitable[T], what: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, BOUND)
    except TimeoutError:
        raise AssertionError(f"{what} did not answer within {BOUND} s") from None


def token_form(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": email, "password": password}


# --- defect 2: no write lock, no pool connection while hashing ------------------------------


async def test_sign_in_hashes_with_no_connection_held_and_no_write_lock(
    app_client: AppClientFactory,
) -> None:
    async with app_client() as client:
        signer = await new_owner(client)
        other = await new_owner(client)
        await register_device(client, other)
        engine = client.app.state.runtime.database.engine  # type: ignore[attr-defined]

        async with parked_hashing(client) as hasher:
            sign_ins = [
                asyncio.create_task(client.post(f"{API}/auth/token", data=token_form(signer.email)))
                for _ in range(2)
            ]
            await until(lambda: hasher.entered >= 1, "a sign-in to reach its password check")

            # Another owner's write goes through while sign-ins are being verified (on
            # SQLite it used to wait for the write lock, then fail: "database is locked").
            signal = await bounded(
                client.post(
                    f"{API}/signals",
                    json={"instrument": "EURUSD", "side": "buy", "volume": 0.1},
                    headers=other.headers,
                ),
                "POST /signals during sign-ins",
            )
            assert signal.status_code == 201, signal.text
            # And the sign-ins parked in Argon2 hold no pooled connection at all.
            assert engine.pool.checkedout() == 0

            hasher.release.set()
            answers = await asyncio.gather(*sign_ins)
        assert [answer.status_code for answer in answers] == [200, 200]


# --- defects 2 and 3: hashing is bounded; past the bound 503, never an unbounded queue -------


async def test_sign_ups_beyond_the_hashing_bound_get_503_at_once(
    app_client: AppClientFactory,
) -> None:
    async with (
        app_client(password_hash_concurrency=1, password_hash_queue=0) as client,
        parked_hashing(client) as hasher,
    ):
        first = asyncio.create_task(
            client.post(
                f"{API}/auth/signup",
                json={"email": "first-hashing@example.com", "password": PASSWORD},
            )
        )
        await until(lambda: hasher.entered == 1, "the first sign-up to start hashing")

        more = [
            client.post(
                f"{API}/auth/signup",
                json={"email": f"more-{n}-hashing@example.com", "password": PASSWORD},
            )
            for n in range(10)
        ]
        answers = await bounded(asyncio.gather(*more), "sign-ups past the bound")

        assert hasher.entered == 1  # nobody else hashed (nor holds 64 MiB) meanwhile
        for answer in answers:
            assert_problem(answer, 503, "password_hashing_busy")
            assert int(answer.headers["retry-after"]) >= 1
        hasher.release.set()
        assert (await first).status_code == 201


async def test_sign_ins_beyond_the_hashing_bound_get_503(app_client: AppClientFactory) -> None:
    async with app_client(password_hash_concurrency=1, password_hash_queue=0) as client:
        owner = await new_owner(client)
        async with parked_hashing(client) as hasher:
            first = asyncio.create_task(
                client.post(f"{API}/auth/token", data=token_form(owner.email))
            )
            await until(lambda: hasher.entered == 1, "the first sign-in to start verifying")

            busy = await bounded(
                client.post(f"{API}/auth/token", data=token_form(owner.email)), "a second sign-in"
            )

            assert_problem(busy, 503, "password_hashing_busy")
            assert busy.headers["retry-after"] == "1"
            hasher.release.set()
            assert (await first).status_code == 200
        # Refused for being busy is not a failed attempt: the allowance is untouched.
        assert (await client.post(f"{API}/auth/token", data=token_form(owner.email))).is_success


async def test_sign_ups_are_throttled_per_address(app_client: AppClientFactory) -> None:
    async with app_client(sign_ups_per_ip=3, sign_up_window_seconds=600) as client:
        statuses = []
        for n in range(4):
            response = await client.post(
                f"{API}/auth/signup",
                json={"email": f"throttled-{n}-{time.time_ns()}@example.com", "password": PASSWORD},
            )
            statuses.append(response.status_code)

        assert statuses == [201, 201, 201, 429]
        assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["retry-after"]) <= 600


# --- defect 4: an attempt is counted before it is verified -----------------------------------


async def test_concurrent_guesses_cannot_pass_the_per_email_limit(
    app_client: AppClientFactory,
) -> None:
    # Room for every guess to hash at once: only the throttle may hold them back.
    async with app_client(
        sign_in_failures_per_email=10, password_hash_concurrency=32, password_hash_queue=32
    ) as client:
        owner = await new_owner(client)
        async with parked_hashing(client) as hasher:
            wrong = [
                asyncio.create_task(
                    client.post(
                        f"{API}/auth/token", data=token_form(owner.email, f"wrong-guess-{n:02}")
                    )
                )
                for n in range(15)
            ]
            await until(
                lambda: hasher.entered + sum(task.done() for task in wrong) >= 15,
                "every guess to be either verifying or answered",
            )
            right = asyncio.create_task(
                client.post(f"{API}/auth/token", data=token_form(owner.email))
            )
            await until(lambda: right.done() or hasher.entered > 15, "the right password")
            hasher.release.set()
            answers = await asyncio.gather(*wrong)
            right_answer = await right

        assert hasher.entered <= 10  # never more verifications than the limit allows
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * 10 + [429] * 5
        assert_problem(right_answer, 429, "rate_limited")
        assert int(right_answer.headers["retry-after"]) >= 1


async def test_only_failures_spend_the_allowance_then_even_the_right_password_waits(
    app_client: AppClientFactory,
) -> None:
    async with app_client(sign_in_failures_per_email=3) as client:
        owner = await new_owner(client)
        for _ in range(8):
            response = await client.post(f"{API}/auth/token", data=token_form(owner.email))
            assert response.status_code == 200, response.text
        for _ in range(3):
            wrong = await client.post(f"{API}/auth/token", data=token_form(owner.email, "nope-1"))
            assert wrong.status_code == 401
        blocked = await client.post(f"{API}/auth/token", data=token_form(owner.email))
        assert_problem(blocked, 429, "rate_limited")


def test_default_hashing_bound_fits_the_memory_budget() -> None:
    """By default at most 192 MiB of Argon2 memory is in use at once, and one hash always may
    run; below that, one hash per core the process may use but the event loop's."""
    cores = len(os.sched_getaffinity(0))
    assert default_hash_concurrency(65536) == max(1, min(cores - 1, 3))  # 64 MiB each
    assert default_hash_concurrency(1024) == max(1, cores - 1)
    assert default_hash_concurrency(1024 * 1024) == 1  # 1 GiB each: still one at a time
