"""Counts of what the server answered, for tests to read at ``GET /_control/stats``."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    """Requests to the data endpoints by status, fault, endpoint and ticker, and bars served."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start counting from zero."""
        self.requests = 0
        self.bars = 0
        self.statuses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.endpoints: Counter[str] = Counter()
        self.tickers: Counter[str] = Counter()

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "requests": self.requests,
            "bars": self.bars,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "faults": dict(sorted(self.faults.items())),
            "endpoints": dict(sorted(self.endpoints.items())),
            "tickers": dict(sorted(self.tickers.items())),
        }
