"""Replay protection: each (device, nonce) is accepted once while its timestamp is in window."""

from __future__ import annotations


class MemoryReplayGuard:
    """One process's memory: correct for a single process (``--workers > 1`` needs Redis)."""

    def __init__(self) -> None:
        # Keys are plain strings: the collector does not track them, so millions of live
        # nonces cost it nothing (tuples of UUIDs made every collection crawl through them).
        self._seen: dict[str, int] = {}
        # Nonces bucketed by the second they expire, so purging costs what it removes.
        self._buckets: dict[int, list[str]] = {}
        self._purged_through: int | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, device_key: str, nonce: str, *, until: int, now: int) -> bool:
        """Record the nonce until ``until`` (unix seconds); False if it was already recorded."""
        if self._purged_through is None or now > self._purged_through:
            self._purge(now)
        key = f"{device_key}:{nonce}"
        if key in self._seen:
            return False
        self._seen[key] = until
        self._buckets.setdefault(until, []).append(key)
        return True

    def _purge(self, now: int) -> None:
        if self._purged_through is None:
            self._purged_through = now - 1
            return
        if now <= self._purged_through:
            return
        if now - self._purged_through > len(self._buckets):
            expired = [second for second in self._buckets if second <= now]
        else:
            expired = [s for s in range(self._purged_through + 1, now + 1) if s in self._buckets]
        for second in expired:
            for key in self._buckets.pop(second):
                if self._seen.get(key) == second:
                    del self._seen[key]
        self._purged_through = now
