"""A run's stop request and its commit fence: stopped with nothing committed, or committing."""

from __future__ import annotations

import threading

import pytest

from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import CanceledError


def test_a_stop_runs_the_callbacks_and_keeps_the_first_reason() -> None:
    stop = Cancellation()
    called: list[str] = []
    with stop.on_cancel(lambda: called.append("job group")):
        assert stop.cancel("canceled by its user")
        assert not stop.cancel("timed out") or stop.reason == "canceled by its user"
    assert called == ["job group", "job group"]
    with pytest.raises(CanceledError, match="canceled by its user"):
        stop.check()


def test_a_callback_registered_after_the_stop_runs_at_once() -> None:
    stop = Cancellation()
    stop.cancel("stop")
    called: list[int] = []
    with stop.on_cancel(lambda: called.append(1)):
        pass
    assert called == [1]


def test_once_the_fence_is_passed_stops_are_refused() -> None:
    stop = Cancellation(lambda: True)
    stop.begin_commit()
    assert stop.committing
    assert stop.cancel("too late") is False
    stop.check()


def test_a_refused_fence_stops_the_run() -> None:
    stop = Cancellation(lambda: False)
    with pytest.raises(CanceledError, match="before it could commit"):
        stop.begin_commit()
    assert stop.requested and not stop.committing


def test_a_stop_before_the_fence_never_asks_it() -> None:
    asked: list[int] = []
    stop = Cancellation(lambda: asked.append(1) or True)
    stop.cancel("canceled by its user")
    with pytest.raises(CanceledError):
        stop.begin_commit()
    assert asked == []


def test_a_stop_while_the_fence_is_asked_waits_for_its_answer() -> None:
    asking = threading.Event()
    answer = threading.Event()

    def fence() -> bool:
        asking.set()
        answer.wait(5)
        return True

    stop = Cancellation(fence)
    committing = threading.Thread(target=stop.begin_commit)
    committing.start()
    assert asking.wait(5)
    # The owner's thread may cancel meanwhile without a deadlock; the fence's answer wins.
    assert stop.cancel("timed out") is False
    answer.set()
    committing.join(5)
    assert stop.committing and not stop.requested
