"""Time-ordered UUIDv7 identifiers (RFC 9562), monotonic within this process."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7; ids made later in this process always sort after earlier ones."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Start the 12-bit counter in its lower half so bursts rarely overflow it.
            _counter = int.from_bytes(os.urandom(2)) & 0x7FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


def uuid7_at(unix_ms: int) -> uuid.UUID:
    """A UUIDv7 carrying the given time (random otherwise): for a record stamped with when
    something happened rather than when it is written."""
    rand = int.from_bytes(os.urandom(10))
    rand_a, rand_b = rand >> 68 & 0xFFF, rand & ((1 << 62) - 1)
    value = (unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
