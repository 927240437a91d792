"""Schedules: cron expressions (croniter) and IANA time zones (zoneinfo)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

from uis_compiler.suggest import did_you_mean

MACROS = frozenset(
    {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
)
CRON_HINT = (
    "use 5 fields `minute hour day-of-month month day-of-week` (e.g. `0 6 * * 1-5`), "
    "6 with seconds first, or one of " + ", ".join(sorted(MACROS))
)
# A fixed start keeps the "does it ever fire" check deterministic.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


class ScheduleError(ValueError):
    """An unusable schedule; the message says why."""


def check_cron(expression: str) -> None:
    """Raise ScheduleError unless ``expression`` is a cron schedule Headwater can run."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ScheduleError(f"`{text}` is not a known cron macro")
        return
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ScheduleError(f"`{text}` has {len(fields)} fields; a cron expression has 5 or 6")
    seconds_first = len(fields) == 6
    if not croniter.is_valid(text, second_at_beginning=seconds_first):
        raise ScheduleError(f"`{text}` is not a valid cron expression")
    try:
        croniter(
            text, _REFERENCE, second_at_beginning=seconds_first, max_years_between_matches=8
        ).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ScheduleError(f"`{text}` never fires (e.g. the 30th of February)") from exc


def check_timezone(name: str) -> str | None:
    """None when ``name`` is an IANA zone, else a hint naming the closest one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return did_you_mean(name, _zones()) or "use an IANA name such as `America/New_York`"
    return None


@cache
def _zones() -> frozenset[str]:
    # Listing zones scans the tz database; only needed to suggest a fix for a bad name.
    return frozenset(available_timezones())


def _schedule(expression: str, zone: ZoneInfo, start: datetime) -> croniter:
    text = expression.strip()
    return croniter(text, start.astimezone(zone), second_at_beginning=len(text.split()) == 6)


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time ``expression`` fires strictly after ``after``, in UTC.

    The expression is read in ``timezone`` (so `0 18 * * 1-5` in America/New_York is 18:00
    there on both sides of a daylight-saving change).
    """
    found: datetime = _schedule(expression, ZoneInfo(timezone), after).get_next(datetime)
    return found.astimezone(UTC)


def fires_between(
    expression: str, timezone: str, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Every time ``expression`` fires in ``[start, end]``, oldest first, in UTC."""
    # croniter's get_next is strictly after its start: step back a microsecond to include it.
    schedule = _schedule(expression, ZoneInfo(timezone), start - timedelta(microseconds=1))
    while True:
        found: datetime = schedule.get_next(datetime)
        if found > end:
            return
        yield found.astimezone(UTC)


def fires_before(expression: str, timezone: str, end: datetime, count: int) -> list[datetime]:
    """The last ``count`` times ``expression`` fires at or before ``end``, oldest first, in UTC."""
    schedule = _schedule(expression, ZoneInfo(timezone), end + timedelta(microseconds=1))
    found: list[datetime] = [schedule.get_prev(datetime).astimezone(UTC) for _ in range(count)]
    return found[::-1]
