"""Every error of the ingest job has an error class, and each class says whether it retries."""

from __future__ import annotations

import inspect

import pytest

from runner.control import errors
from runner.ingest import exceptions

JOB_ERRORS = [
    kind
    for _, kind in inspect.getmembers(exceptions, inspect.isclass)
    if issubclass(kind, exceptions.IngestError) and kind is not exceptions.CanceledError
]


@pytest.mark.parametrize("kind", JOB_ERRORS, ids=lambda k: k.__name__)
def test_every_job_error_has_a_class_of_the_same_nature(kind: type[Exception]) -> None:
    assert kind.__name__ in errors.BY_EXCEPTION, f"add {kind.__name__} to BY_EXCEPTION"
    found = errors.of_exception(kind.__name__)
    if issubclass(kind, exceptions.TransientError):
        assert found.transient, found
    if issubclass(kind, exceptions.TerminalError):
        assert not found.transient, found


def test_every_mapped_class_exists_and_unknown_names_are_unexpected() -> None:
    assert set(errors.BY_EXCEPTION.values()) <= set(errors.CLASSES)
    assert errors.of_exception("KeyError").name == "unexpected"


@pytest.mark.parametrize(
    ("name", "transient"),
    [
        ("worker_lost", True),
        ("driver_lost", True),
        ("worker_shutdown", True),
        ("start_timeout", True),
        ("timed_out", False),
        ("invalid_plan", False),
        ("refused", False),
    ],
)
def test_the_workers_own_classes(name: str, transient: bool) -> None:
    assert errors.CLASSES[name].transient is transient
