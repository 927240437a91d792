"""Per-group request rates: a token bucket per group, split evenly over the fetching workers.

A group's rate is a budget for the whole run. Each of N workers (Spark tasks running at once)
gets rate / N, so together they never exceed it, with no coordination between processes.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate` requests per second with a burst of one; `acquire` says how long it waited."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        async with self._lock:
            now = time.monotonic()
            wait = max(0.0, self._next - now)
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


def buckets(rates: dict[str, float], workers: int) -> dict[str, TokenBucket]:
    """One bucket per group for one of ``workers`` concurrent workers."""
    share = max(1, workers)
    return {group: TokenBucket(rate / share) for group, rate in rates.items()}
