"""Which fault, if any, a request gets: exact rules first, then seeded random draws."""

from __future__ import annotations

import random
from dataclasses import dataclass

from standins.polygon.config import Endpoint, FaultConfig, FaultKind


@dataclass(frozen=True)
class Fault:
    """The fate of one request: an added delay, and at most one failure."""

    delay_s: float = 0.0
    failure: FaultKind | None = None
    status: int = 0


NO_FAULT = Fault()


class FaultInjector:
    """Decides faults request by request; swapping the config restarts rules and the RNG."""

    def __init__(self, config: FaultConfig) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Use ``config`` from now on, with rule counts and the random sequence restarted."""
        self.config = config
        self._fired = [0] * len(config.rules)
        self._random = random.Random(config.seed)

    def restart(self) -> None:
        """Start the rules and the random sequence over."""
        self.configure(self.config)

    def decide(self, endpoint: Endpoint, ticker: str | None) -> Fault:
        """The fault for the next request to ``endpoint`` (for ``ticker``, on aggregates)."""
        config = self.config
        if not config.active:
            return NO_FAULT
        for index, rule in enumerate(config.rules):
            if (
                self._fired[index] < rule.count
                and (rule.endpoint is None or rule.endpoint == endpoint)
                and (rule.ticker is None or rule.ticker == ticker)
            ):
                self._fired[index] += 1
                if rule.kind == "slow":
                    return Fault(delay_s=rule.delay_ms / 1000)
                return Fault(failure=rule.kind, status=rule.status)
        draw = self._random.random
        delay_s = 0.0
        low, high = config.latency_ms
        if high > 0 and draw() < config.slow_rate:
            delay_s = (low if low == high else self._random.uniform(low, high)) / 1000
        pick = draw()
        if pick < config.reset_rate:
            return Fault(delay_s, "reset")
        pick -= config.reset_rate
        if pick < config.error_rate:
            return Fault(delay_s, "error", self._random.choice(config.error_statuses))
        pick -= config.error_rate
        if pick < config.malformed_rate:
            return Fault(delay_s, "malformed")
        return Fault(delay_s) if delay_s else NO_FAULT
