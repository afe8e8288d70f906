"""An in-memory store with an injectable clock: the test double for the store contract."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from .base import Store, check_key, check_prefix, is_debris

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keys in a dict under one lock; ``clock`` (default ``time.time``) dates every write."""

    atomic_create = True

    def __init__(self, location: str = "memory-store", *, clock: Callable[[], float] = time.time):
        super().__init__(location)
        self._clock = clock
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[bytes, float]] = {}

    def read(self, key: str) -> bytearray | None:
        entry = self._blobs.get(check_key(key))
        if entry is None:
            return None
        if len(entry[0]) > self.limit_of(key):
            self.refuse_oversized(key, len(entry[0]))
            return None
        return bytearray(entry[0])

    def write(self, key: str, data: bytes) -> None:
        check_key(key)
        with self._lock:
            self._blobs[key] = (bytes(data), self._clock())

    def create(self, key: str, data: bytes) -> bool:
        check_key(key)
        with self._lock:
            if key in self._blobs:
                return False
            self._blobs[key] = (bytes(data), self._clock())
            return True

    def move(self, key: str, new_key: str, *, private: bool = False) -> bool:
        check_key(key)
        check_key(new_key)
        with self._lock:
            entry = self._blobs.pop(key, None)
            if entry is not None:
                self._blobs[new_key] = entry
        return entry is not None

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._blobs.pop(check_key(key), None) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        with self._lock:
            keys = [k for k in self._blobs if k.startswith(prefix)]
        return iter([k for k in keys if not is_debris(k.rpartition("/")[2])])

    def age(self, key: str) -> float | None:
        entry = self._blobs.get(check_key(key))
        return None if entry is None else max(0.0, self._clock() - entry[1])

    def size(self, key: str) -> int | None:
        entry = self._blobs.get(check_key(key))
        return None if entry is None else len(entry[0])
