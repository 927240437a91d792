"""Run retries: exponential backoff, capped, with equal jitter, up to the attempts."""

from __future__ import annotations

import pytest

from runner.control.retry import Attempts, next_attempt

ATTEMPTS = Attempts(max_attempts=5, backoff_seconds=10, max_backoff_seconds=60)


@pytest.mark.parametrize(
    ("attempt", "low", "high"), [(1, 5, 10), (2, 10, 20), (3, 20, 40), (4, 30, 60)]
)
def test_the_wait_doubles_up_to_the_cap_half_of_it_drawn(
    attempt: int, low: float, high: float
) -> None:
    assert next_attempt(ATTEMPTS, attempt, lambda a, b: a) == low
    assert next_attempt(ATTEMPTS, attempt, lambda a, b: b) == high


def test_no_attempt_after_the_last() -> None:
    assert next_attempt(ATTEMPTS, 5) is None
    assert next_attempt(Attempts(max_attempts=1), 1) is None


def test_attempts_come_from_the_plans_execution() -> None:
    assert Attempts.of(None) == Attempts()
    found = Attempts.of('{"max_attempts": 2, "backoff_seconds": 1, "max_backoff_seconds": 4}')
    assert found == Attempts(2, 1.0, 4.0)
    assert Attempts.of({"max_attempts": 7}).max_attempts == 7
