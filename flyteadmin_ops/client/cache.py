"""A small per-client cache for immutable-by-version entities (tasks, workflows, launch plans).

flytekit caches these with a class-level `functools.lru_cache` keyed on `(self, id)`: 128 entries shared by
every client, no expiry, each hit returning the same mutable object, and every client pinned in memory.
This cache belongs to one client instance, is bounded (LRU) and expires entries after a TTL, and hands out a
copy on every hit, so no caller can change what another caller (or the cache) sees.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from google.protobuf.message import Message

from flyteadmin_ops.client.coerce import copy_of

M = TypeVar("M", bound=Message)


class EntityCache:
    """LRU + TTL cache of protobuf messages; thread-safe.

    `clock` is injectable so tests can move time without sleeping. A size or TTL of 0 disables caching.
    """

    def __init__(
        self, maxsize: int = 256, ttl_seconds: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if maxsize < 0 or ttl_seconds < 0:
            raise ValueError(f"cache size and TTL must be >= 0, got {maxsize} and {ttl_seconds}")
        self.maxsize = maxsize
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Message]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        """Bumped by every invalidation: a load that began before one must not store what it read."""

    @property
    def enabled(self) -> bool:
        return self.maxsize > 0 and self.ttl_seconds > 0

    def get_or_load(self, key: Hashable, load: Callable[[], M]) -> M:
        """A copy of the cached value, or of `load()` (stored for later) on a miss or after expiry.

        `load` runs outside the lock, so a slow RPC does not hold up hits for other keys. Errors are not
        cached, and neither is a value loaded while an invalidation happened: it may predate the change
        that invalidation announced (e.g. a launch plan read just before another thread activated it).
        """
        if not self.enabled:
            return load()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry[0]:
                self._entries.move_to_end(key)
                return copy_of(entry[1])  # type: ignore[return-value]
            generation = self._generation
        value = load()
        with self._lock:
            if generation != self._generation:
                return copy_of(value)
            self._entries[key] = (self._clock() + self.ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return copy_of(value)

    def invalidate(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key matches; returns how many were dropped."""
        with self._lock:
            self._generation += 1
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
