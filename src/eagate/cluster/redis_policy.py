"""Start-up check of the Redis that holds the nonces: it must never evict them.

A used nonce evicted before its window ends could be replayed, so any ``maxmemory-policy``
but ``noeviction`` (Redis answers errors instead of dropping keys when full) is refused in
production and warned about elsewhere. Hosted Redis often disables ``CONFIG``: then the policy
cannot be read, and the operator is warned to check it themselves.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from eagate.settings import Environment

log = logging.getLogger("eagate.redis")

SAFE_POLICY = "noeviction"


class UnsafeRedisPolicy(RuntimeError):
    """Production refuses a Redis that may evict nonces (one-line message)."""


async def read_eviction_policy(redis: Redis) -> str | None:
    """``maxmemory-policy``, or None when the provider refuses CONFIG GET."""
    try:
        answer = await redis.config_get("maxmemory-policy")
    except ResponseError:  # unknown command (renamed away) or NOPERM
        return None
    value = answer.get("maxmemory-policy")
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def judge_eviction_policy(*, policy: str | None, env: Environment) -> str | None:
    """The warning to log for ``policy`` (None: nothing to say); UnsafeRedisPolicy in
    production for a policy that evicts."""
    if policy is None:
        return (
            "cannot read Redis maxmemory-policy (CONFIG is disabled); make sure it is "
            f"{SAFE_POLICY}, or used nonces may be evicted and replayed"
        )
    if policy == SAFE_POLICY:
        return None
    message = (
        f"Redis maxmemory-policy is {policy}: it may evict used nonces before their window "
        f"ends (replays); set it to {SAFE_POLICY} (EAGATE_REDIS_URL)"
    )
    if env is Environment.PRODUCTION:
        raise UnsafeRedisPolicy(message)
    return message


async def check_redis_eviction(url: str, *, env: Environment, io_seconds: float = 5.0) -> None:
    """Read and judge the policy of the Redis at ``url``: UnsafeRedisPolicy or a warning.
    An unreachable Redis is only warned about (the service fails closed until it answers)."""
    redis: Redis = Redis.from_url(url, socket_timeout=io_seconds, socket_connect_timeout=io_seconds)
    try:
        policy = await read_eviction_policy(redis)
    except (RedisError, OSError) as exc:
        log.warning("cannot reach Redis to check maxmemory-policy (%s)", type(exc).__name__)
        return
    finally:
        await redis.aclose()
    warning = judge_eviction_policy(policy=policy, env=env)
    if warning is not None:
        log.warning("%s", warning)
