"""A server process's short memory of rows it read: kept for a few seconds, so that an agency pushing hundreds
of single events a second does not have the same rows read for every one of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """Values by key, each until its lifetime has passed, shared by the process's threads (which only read the
    values). Past ``size`` keys it starts again empty: a bound on memory, the keys being few (agencies, keys)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._values.get(key)
        return found[1] if found is not None and found[0] > time.monotonic() else None

    def put(self, key: K, value: V, lifetime: float) -> None:
        """Remember ``value`` for ``lifetime`` seconds (not at all when it is 0)."""
        if lifetime <= 0:
            return
        with self._lock:
            if len(self._values) >= self._size:
                self._values.clear()
            self._values[key] = (time.monotonic() + lifetime, value)

    def forget(self, key: K | None = None) -> None:
        """Forget ``key`` (everything, with None)."""
        with self._lock:
            if key is None:
                self._values.clear()
            else:
                self._values.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
