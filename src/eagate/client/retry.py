"""When and how long to wait before retrying a device request."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC


def is_retryable_status(status: int) -> bool:
    """5xx and 429. Other 4xx mean the request itself is wrong: repeating it cannot help."""
    return status >= 500 or status == 429


def full_jitter_delay(
    retry: int, *, base: float, cap: float, uniform: Callable[[float, float], float]
) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**retry))."""
    return uniform(0.0, min(cap, base * 2.0**retry))


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
