"""A local Polygon.io-compatible server: deterministic daily bars, auth, rate limits, faults.

The tests, the benchmarks and the demo use it in place of ``https://api.polygon.io``. This
package's top level holds only the light modules; the server lives in ``server`` (Starlette and
uvicorn are imported there).
"""

from __future__ import annotations

from standins.polygon.bars import Bar, bar_on, bars
from standins.polygon.config import FaultConfig, FaultRule, RateLimit, SimConfig
from standins.polygon.exceptions import SimConfigError

__all__ = [
    "Bar",
    "FaultConfig",
    "FaultRule",
    "RateLimit",
    "SimConfig",
    "SimConfigError",
    "bar_on",
    "bars",
]
