"""A token bucket per API key, answering how long to wait when a request is over the rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from standins.polygon.config import RateLimit


class RateLimiter:
    """Buckets of ``requests`` tokens per key, refilled at ``requests / per_seconds`` a second."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(limit.requests)
        self._refill = limit.requests / limit.per_seconds
        self._clock = clock
        # key -> (tokens, time of the last update); only the event loop's thread touches it.
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str) -> int:
        """Take a token for ``key``: 0 if granted, else the whole seconds until one is free."""
        now = self._clock()
        tokens, then = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - then) * self._refill)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._refill))

    def reset(self) -> None:
        """Refill every bucket."""
        self._buckets.clear()
