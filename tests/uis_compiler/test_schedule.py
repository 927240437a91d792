"""Cron expressions and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from uis_compiler.schedule import (
    ScheduleError,
    check_cron,
    check_timezone,
    fires_before,
    fires_between,
    next_fire,
)


@pytest.mark.parametrize(
    "expr",
    ["0 6 * * 1-5", "*/15 * * * *", "30 0 6 * * MON-FRI", "@daily", "@annually", "@midnight"],
)
def test_valid_cron(expr: str) -> None:
    check_cron(expr)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("0 6 * *", "4 fields"),
        ("0 0 6 * * 1-5 2030", "7 fields"),
        ("61 * * * *", "not a valid"),
        ("0 0 31 2 *", "never fires"),
        ("@reboot", "macro"),
    ],
)
def test_invalid_cron(expr: str, why: str) -> None:
    with pytest.raises(ScheduleError, match=why):
        check_cron(expr)


def test_timezones() -> None:
    assert check_timezone("America/New_York") is None
    assert check_timezone("US/Eastern") is None
    assert check_timezone("America/New_Yrok") == "did you mean `America/New_York`?"
    assert check_timezone("../etc/passwd") is not None


def test_next_fire_is_strictly_after_and_follows_daylight_saving() -> None:
    winter = datetime(2024, 3, 8, 12, 0, tzinfo=UTC)
    # Friday 18:00 in New York (EST, UTC-5), then Monday 18:00 after the change to EDT (UTC-4).
    first = next_fire("0 18 * * 1-5", "America/New_York", winter)
    assert first == datetime(2024, 3, 8, 23, 0, tzinfo=UTC)
    assert next_fire("0 18 * * 1-5", "America/New_York", first) == datetime(
        2024, 3, 11, 22, 0, tzinfo=UTC
    )


def test_next_fire_reads_six_fields_and_macros() -> None:
    start = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert next_fire("30 * * * * *", "UTC", start) == datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert next_fire("@hourly", "UTC", start) == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def test_fires_between_includes_both_ends_in_order() -> None:
    start = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    found = list(fires_between("0 * * * *", "UTC", start, start + timedelta(hours=3)))
    assert found == [start + timedelta(hours=n) for n in range(4)]
    assert list(fires_between("0 * * * *", "UTC", start + timedelta(minutes=1), start)) == []


def test_fires_before_gives_the_latest_ticks_oldest_first() -> None:
    end = datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    assert fires_before("0 * * * *", "UTC", end, 3) == [
        datetime(2024, 1, 1, hour, 0, tzinfo=UTC) for hour in (8, 9, 10)
    ]
    # A tick at `end` itself counts.
    assert fires_before("30 * * * *", "UTC", end, 1) == [end]
