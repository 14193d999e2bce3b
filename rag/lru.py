"""A bounded, thread-safe least-recently-used map: every cache of the service is one."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A map that forgets its least recently used entries beyond `limit` (0 keeps nothing).

    >>> cache = Lru[str, int](2)
    >>> [cache.get_or(k, lambda: len(k)) for k in ("a", "bb", "a", "ccc")], cache.get("bb")
    ([1, 2, 1, 3], None)
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return value

    def get_or(self, key: K, make: Callable[[], V]) -> V:
        value = self.get(key)
        # made outside the lock: two threads may both make it, harmlessly
        return value if value is not None else self.put(key, make())

    def __len__(self) -> int:
        return len(self._items)
