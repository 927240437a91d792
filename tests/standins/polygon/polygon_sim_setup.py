"""What the shared test server is configured with (imported by conftest.py and the tests)."""

from __future__ import annotations

from standins.polygon.config import SimConfig

UNIVERSE = 2500
FRACTIONAL = "FRAC"
FORBIDDEN = "SECRET"
KEYS = ("test-key", "other-key")


def shared_config() -> SimConfig:
    """No rate limit, no faults, control endpoints on, any free port."""
    return SimConfig(
        port=0,
        keys=KEYS,
        universe_size=UNIVERSE,
        fractional_volume=frozenset({FRACTIONAL}),
        forbidden=frozenset({FORBIDDEN}),
        control=True,
        log_level="warning",
    )
