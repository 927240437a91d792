"""Per-key request budgets: every key spends estimated fields from a budget that refills.

A request costs what its operation is estimated to resolve (api.schema.cost), at least 1, so a
key sending the most expensive queries the cost limit allows runs out as fast as one sending
many small ones. The budget is a sliding-window counter (the `limits` library's), in memory:
one per key and API process, which bounds what each process spends on one key.
"""

from __future__ import annotations

import math

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


class KeyBudget:
    """Estimated fields per key per minute; refusals say how long to wait."""

    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def exhausted(self, key_id: int) -> float | None:
        """Seconds to wait when the key has nothing left (a cheap check before any parsing)."""
        if self._limiter.test(self.item, str(key_id)):
            return None
        return self._wait(key_id, 1)

    def spend(self, key_id: int, cost: int) -> float | None:
        """Takes ``cost`` from the key's budget; seconds to wait instead when it has not enough."""
        cost = max(1, cost)
        if self._limiter.hit(self.item, str(key_id), cost=cost):
            return None
        return self._wait(key_id, cost)

    def remaining(self, key_id: int) -> int:
        """What the key may still spend now (sent back as X-RateLimit-Remaining)."""
        return int(self._limiter.get_window_stats(self.item, str(key_id)).remaining)

    def _wait(self, key_id: int, cost: int) -> float:
        """Whole seconds until ``cost`` fits again, at the budget's average refill rate."""
        remaining = self.remaining(key_id)
        per_second = self.item.amount / self.item.get_expiry()
        return float(max(1, math.ceil((cost - remaining) / per_second)))
