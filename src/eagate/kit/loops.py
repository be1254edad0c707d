"""The one way background work repeats: every N seconds, until cancelled, surviving failures."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("eagate")


async def every(
    seconds: float,
    work: Callable[[], Awaitable[object] | object],
    *,
    what: str,
    on_failure: Callable[[], object] | None = None,
) -> None:
    """Await ``work()`` every ``seconds`` until cancelled. A failure is logged (saying ``what``
    failed), handed to ``on_failure``, and the loop goes on: the next round may succeed."""
    while True:
        await asyncio.sleep(seconds)
        try:
            done = work()
            if inspect.isawaitable(done):
                await done
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; will retry", what)
            if on_failure is not None:
                on_failure()
