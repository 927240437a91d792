"""Deterministic daily bars: the pure function behind the aggregates endpoint.

Every value derives from BLAKE2b hashes of the ticker and of ``"{ticker}|{YYYY-MM-DD}"``, so a
test can compute the exact rows the server returns. Prices are whole ticks of 1/10,000 dollar,
which keeps ``l <= min(o, c) <= max(o, c) <= h`` and ``l <= vw <= h`` exact. Only weekdays have
bars; there is no holiday calendar. The formula (README, "The local Polygon server"):

    seed   = BLAKE2b-64(ticker) as a big-endian integer
    base   = 50_000 + seed % 4_950_000                       ticks (5.0000 … 499.9999 dollars)
    phase  = ((seed >> 20) % 360) * 2π / 360
    scale  = 1 + (seed >> 40) % 100
    u0…u7  = BLAKE2b-128(f"{ticker}|{day:%Y-%m-%d}") as eight big-endian uint16
    mid    = base * (1 + 0.25 * sin(2π * day.toordinal() / 365.25 + phase))
    o, c   = int(mid * (0.98 + 0.04 * u0 / 65536)), int(mid * (0.98 + 0.04 * u1 / 65536))
    h      = max(o, c) + max(o, c) * u2 // 3_276_800         (up to +2 %)
    l      = min(o, c) - min(o, c) * u3 // 3_276_800         (up to -2 %)
    vw     = l + (h - l) * u4 // 65536
    units  = scale * (20_000 + 40 * u5)
    v      = units, or units + (1 + u6 % 9999) / 10_000 for a fractional-volume ticker
    n      = 1 + units // (50 + u7 % 100)
    t      = midnight America/New_York of the day, epoch milliseconds
    prices = ticks / 10_000
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from standins.polygon.days import start_ms, weekdays

_TAU = 2 * math.pi
_U16X8 = struct.Struct(">8H")
_TICKS = 10_000


class Bar(NamedTuple):
    """One daily bar: Polygon's fields in Polygon's order, then the New York calendar day."""

    v: int | float
    vw: float
    o: float
    c: float
    h: float
    l: float  # noqa: E741 - Polygon's field name
    t: int
    n: int
    day: dt.date

    def result(self) -> dict[str, int | float]:
        """The bar as an element of Polygon's ``results`` array."""
        return {
            "v": self.v,
            "vw": self.vw,
            "o": self.o,
            "c": self.c,
            "h": self.h,
            "l": self.l,
            "t": self.t,
            "n": self.n,
        }


class TickerSeed(NamedTuple):
    """The per-ticker constants of the formula."""

    base: int
    phase: float
    scale: int


def ticker_seed(ticker: str) -> TickerSeed:
    """Base price in ticks, trend phase (radians) and volume scale of a ticker."""
    seed = int.from_bytes(hashlib.blake2b(ticker.encode(), digest_size=8).digest(), "big")
    return TickerSeed(
        base=50_000 + seed % 4_950_000,
        phase=((seed >> 20) % 360) * _TAU / 360,
        scale=1 + (seed >> 40) % 100,
    )


@lru_cache(maxsize=65_536)
def _day(ordinal: int) -> tuple[dt.date, bytes, int]:
    # Shared by every ticker of a window, so computed once per day, not once per bar.
    day = dt.date.fromordinal(ordinal)
    return day, day.isoformat().encode(), start_ms(ordinal)


def bar_on(ticker: str, day: dt.date, *, fractional_volume: bool = False) -> Bar:
    """The bar of ``ticker`` on ``day`` (whatever day of the week it is)."""
    return bars_on_days(ticker, [day.toordinal()], fractional_volume=fractional_volume)[0]


def bars(
    ticker: str, start: dt.date, end: dt.date, *, fractional_volume: bool = False
) -> list[Bar]:
    """Every bar of ``ticker`` from ``start`` to ``end`` inclusive, weekdays only, ascending."""
    first, last = start.toordinal(), end.toordinal()
    days = weekdays(first, last, max(0, last - first + 1))
    return bars_on_days(ticker, days, fractional_volume=fractional_volume)


def bars_on_days(ticker: str, ordinals: Iterable[int], *, fractional_volume: bool) -> list[Bar]:
    """The bars of ``ticker`` on the days with these ordinals, in their order."""
    base, phase, scale = ticker_seed(ticker)
    prefix = hashlib.blake2b(f"{ticker}|".encode(), digest_size=16)
    sin = math.sin
    out: list[Bar] = []
    append = out.append
    for ordinal in ordinals:
        day, iso, t = _day(ordinal)
        digest = prefix.copy()
        digest.update(iso)
        u0, u1, u2, u3, u4, u5, u6, u7 = _U16X8.unpack(digest.digest())
        mid = base * (1 + 0.25 * sin(_TAU * ordinal / 365.25 + phase))
        o = int(mid * (0.98 + 0.04 * u0 / 65536))
        c = int(mid * (0.98 + 0.04 * u1 / 65536))
        top, bottom = (o, c) if o >= c else (c, o)
        h = top + top * u2 // 3_276_800
        low = bottom - bottom * u3 // 3_276_800
        vw = low + (h - low) * u4 // 65536
        units = scale * (20_000 + 40 * u5)
        v: int | float = units + (1 + u6 % 9999) / _TICKS if fractional_volume else units
        n = 1 + units // (50 + u7 % 100)
        append(Bar(v, vw / _TICKS, o / _TICKS, c / _TICKS, h / _TICKS, low / _TICKS, t, n, day))
    return out
