"""A short-lived cache for the counts behind sparklines and totals.

Counting stories per feed and day scans every story of the last two weeks; a page that
refreshes every minute, or many people looking at once, need not repeat it within seconds.
Counts may lag by `ttl`; lists of matches and stories are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

COUNTS_TTL = 30.0


class TtlCache:
    def __init__(self, ttl: float = COUNTS_TTL, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = now
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and self._now() - hit[0] < self.ttl:
            value: T = hit[1]
            return value
        value = compute()
        with self._lock:
            self._items[key] = (self._now(), value)
        return value
