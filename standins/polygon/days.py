"""The trading days of the local Polygon server: weekdays, each starting at midnight in New York."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def is_weekday(ordinal: int) -> bool:
    """Whether the day with this proleptic Gregorian ordinal is Monday to Friday."""
    # Ordinal 1 (0001-01-01) is a Monday.
    return (ordinal - 1) % 7 < 5


@lru_cache(maxsize=65_536)
def start_ms(ordinal: int) -> int:
    """Midnight America/New_York of the day, in epoch milliseconds (a daily bar's `t`)."""
    # Cached: every ticker of a window asks for the same few hundred days.
    day = dt.date.fromordinal(ordinal)
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    return int(midnight.timestamp()) * 1000


def day_of_ms(ms: int) -> dt.date:
    """The New York calendar day an instant (epoch milliseconds) falls on."""
    instant = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return instant.astimezone(NEW_YORK).date()


def first_day_from_ms(ms: int) -> int:
    """The ordinal of the first day whose bar starts at or after ``ms``."""
    ordinal = day_of_ms(ms).toordinal()
    return ordinal if start_ms(ordinal) >= ms else ordinal + 1


def weekdays(first: int, last: int, count: int, *, descending: bool = False) -> list[int]:
    """Up to ``count`` weekday ordinals in ``first..last`` (inclusive), from either end."""
    found: list[int] = []
    if first > last:
        return found
    if descending:
        ordinal, step, stop = last, -1, first - 1
    else:
        ordinal, step, stop = first, 1, last + 1
    while ordinal != stop and len(found) < count:
        if is_weekday(ordinal):
            found.append(ordinal)
        ordinal += step
    return found
