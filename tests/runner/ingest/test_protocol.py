"""The job's command line: what the worker hands a submitted job is what the job reads back."""

from __future__ import annotations

from datetime import date

from runner.ingest import protocol
from runner.ingest.inputs import RunInputs


def test_a_runs_inputs_survive_the_command_line() -> None:
    inputs = RunInputs(
        "42",
        date(2024, 6, 3),
        date(2024, 5, 29),
        date(2024, 6, 3),
        {"ticker": "AAPL"},
        earlier_attempts=("41", "40"),
    )
    args = protocol.driver_arguments("plan.json", inputs, fence_dir="/tmp/run-42")
    parsed = protocol.argument_parser().parse_args(args)
    assert (parsed.run_id, parsed.logical_date, parsed.start, parsed.end) == (
        "42", date(2024, 6, 3), date(2024, 5, 29), date(2024, 6, 3)
    )  # fmt: skip
    assert dict(parsed.param) == {"ticker": "AAPL"}
    # A retry's earlier attempts, in order: the job skips the sinks they committed.
    assert tuple(parsed.earlier) == ("41", "40")
    assert parsed.fence_dir == "/tmp/run-42" and parsed.events


def test_a_first_attempt_names_no_earlier_one() -> None:
    inputs = RunInputs("7", date(2024, 6, 3), date(2024, 6, 3), date(2024, 6, 3))
    args = protocol.driver_arguments("plan.json", inputs, events=False)
    assert not any(arg.startswith("--earlier-attempt") for arg in args)
    assert protocol.argument_parser().parse_args(args).earlier == []
