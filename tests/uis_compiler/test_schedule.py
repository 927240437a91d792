"""Cron expressions and time zones."""

from __future__ import annotations

import pytest

from uis_compiler.schedule import ScheduleError, check_cron, check_timezone


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
