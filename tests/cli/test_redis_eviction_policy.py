"""Issue 10: a Redis that may evict keys could drop used nonces early (replays). At start-up
`eagate serve` reads maxmemory-policy: anything but noeviction is refused in production and
warned about elsewhere; a provider that disables CONFIG gets a warning.

Each test runs a private redis-server (the shared one's policy is never changed)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from eagate.cluster.redis_policy import (
    UnsafeRedisPolicy,
    judge_eviction_policy,
    read_eviction_policy,
)
from eagate.settings import Environment
from tests.fixtures.databases import require_service
from tests.fixtures.servers import PRODUCTION, eagate_process, eagate_serve, free_port


@contextmanager
def private_redis(*options: str) -> Iterator[str]:
    """A redis-server of our own on a free port; its URL. Stopped on exit."""
    binary = require_service(shutil.which("redis-server"), "redis-server", "PATH")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            probe = subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=5
            )
            if probe.stdout.strip() == "PONG":
                break
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def _policy(url: str) -> str | None:
    redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return await read_eviction_policy(redis)
    finally:
        await redis.aclose()


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl", "noeviction"])
async def test_the_policy_is_read_and_judged(policy: str) -> None:
    with private_redis("--maxmemory-policy", policy) as url:
        read = await _policy(url)
    assert read == policy
    if policy == "noeviction":
        assert judge_eviction_policy(policy=read, env=Environment.PRODUCTION) is None
        return
    with pytest.raises(UnsafeRedisPolicy, match="noeviction"):
        judge_eviction_policy(policy=read, env=Environment.PRODUCTION)
    for env in (Environment.DEVELOPMENT, Environment.TEST):
        warning = judge_eviction_policy(policy=read, env=env)
        assert warning is not None
        assert policy in warning


async def test_a_redis_without_config_is_only_warned_about() -> None:
    with private_redis("--rename-command", "CONFIG", "") as url:
        read = await _policy(url)
    assert read is None
    warning = judge_eviction_policy(policy=None, env=Environment.PRODUCTION)
    assert warning is not None
    assert "CONFIG" in warning


def test_production_refuses_an_evicting_redis(tmp_path: Path) -> None:
    with private_redis("--maxmemory-policy", "allkeys-lru") as url:
        result = eagate_process(
            tmp_path, "serve", "--port", str(free_port()), EAGATE_REDIS_URL=url, **PRODUCTION
        )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "maxmemory-policy" in errors[0]
    assert "Traceback" not in result.stderr


def test_development_warns_and_serves(tmp_path: Path) -> None:
    with (
        private_redis("--maxmemory-policy", "allkeys-lru") as url,
        eagate_serve(tmp_path, EAGATE_REDIS_URL=url) as server,
    ):
        assert "maxmemory-policy is allkeys-lru" in server.log()


def test_production_serves_with_noeviction(tmp_path: Path) -> None:
    with (
        private_redis("--maxmemory-policy", "noeviction") as url,
        eagate_serve(tmp_path, EAGATE_REDIS_URL=url, **PRODUCTION) as server,
    ):
        assert "maxmemory-policy" not in server.log()
