"""Short-lived, single-use server-side state: WebAuthn challenges, login flows between factors and
operation step-ups (W3C WebAuthn Level 3 §13.4.3: challenges are generated and kept by the server
and used once).

In-memory, bounded and expiring: the embedded default runs one process, and losing a pending
challenge on restart only makes the customer try again. The bound (oldest first out) keeps
unauthenticated option requests from growing memory without limit. A shared implementation (Redis)
is what a multi-node deployment plugs in here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Ephemeral(Generic[T]):
    def __init__(self, *, ttl_s: float, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def put(self, key: str, value: T, ttl_s: float | None = None) -> None:
        now = self.clock()
        self._expire(now)
        self._items[key] = (now + (self.ttl_s if ttl_s is None else ttl_s), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def get(self, key: str) -> T | None:
        entry = self._items.get(key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def take(self, key: str) -> T | None:
        """Remove and return: the value can be used once."""
        entry = self._items.pop(key, None)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self, now: float) -> None:
        # Entries are kept in insertion order and most share one TTL: drop expired ones from the front.
        while self._items:
            key, (expires, _) = next(iter(self._items.items()))
            if expires > now:
                break
            del self._items[key]
