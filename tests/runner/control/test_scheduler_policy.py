"""The misfire policy: which due cron ticks still make runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.control.config import Misfire, SchedulerConfig
from runner.control.scheduler import Scheduler

NOW = datetime(2024, 5, 6, 12, 0, 30, tzinfo=UTC)
#: Hourly ticks from 08:00 to 12:00 are due; only 12:00 is within the minute's grace.
DUE = [NOW.replace(second=0) - timedelta(hours=n) for n in range(4, -1, -1)]
HOURLY = "0 * * * *"


def policy(misfire: Misfire, catch_up: int) -> Scheduler:
    return Scheduler(SchedulerConfig("postgres://unused", misfire=misfire, catch_up_max=catch_up))


@pytest.mark.parametrize(
    ("misfire", "catch_up", "fired"),
    [
        ("skip", 3, [DUE[-1]]),
        ("catch_up", 0, [DUE[-1]]),
        ("catch_up", 1, [DUE[-2], DUE[-1]]),
        ("catch_up", 2, DUE[-3:]),
        ("catch_up", 10, DUE),
    ],
)
def test_missed_ticks_follow_the_policy_oldest_first(
    misfire: Misfire, catch_up: int, fired: list[datetime]
) -> None:
    found, skipped = policy(misfire, catch_up).ticks_to_fire(HOURLY, "UTC", DUE[0], NOW)
    assert found == fired
    assert skipped is (len(fired) < len(DUE))


def test_ticks_within_the_grace_only_are_on_time() -> None:
    found, skipped = policy("skip", 0).ticks_to_fire(HOURLY, "UTC", DUE[-1], NOW)
    assert (found, skipped) == ([DUE[-1]], False)
    assert policy("catch_up", 5).ticks_to_fire(HOURLY, "UTC", NOW, NOW) == ([], False)


def test_a_long_absence_of_per_second_ticks_is_not_listed_whole() -> None:
    # A day of ticks every second: only the grace's and the catch-up's are looked at.
    every_second = "* * * * * *"
    day_ago = NOW - timedelta(days=1)
    found, skipped = policy("catch_up", 2).ticks_to_fire(every_second, "UTC", day_ago, NOW)
    assert skipped and len(found) == 2 + 61
