"""Bounded memory of the signal ids a client has handed out (delivery is at-least-once)."""

from __future__ import annotations

import uuid
from collections import OrderedDict


class SeenSignals:
    """An LRU set: the least recently seen id is forgotten first once `capacity` is reached."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[uuid.UUID, None] = OrderedDict()

    def first_sighting(self, signal_id: uuid.UUID) -> bool:
        """Remember the id; True only the first time (while it is remembered)."""
        if signal_id in self._ids:
            # A redelivered id is still live on the server: keep it from being evicted.
            self._ids.move_to_end(signal_id)
            return False
        self._ids[signal_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, signal_id: uuid.UUID) -> None:
        self._ids.pop(signal_id, None)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
