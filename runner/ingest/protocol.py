"""How a job started by spark-submit talks to the worker that started it.

The worker names the run on the job's command line (``driver_arguments``); the job answers on
its standard output, one event per line: ``MARKER`` and a JSON object (``EventWriter``).
Other output of the driver (Spark's own, or a library's) never starts with the marker and is
ignored. The exit status says how the run ended, in case the last line never arrives.

Events: ``started`` (pid, Spark application id), ``stage`` (name), ``log`` (level, message),
``progress`` (metrics), ``fence`` (the job asks to commit), and last ``result`` (see
``summary``) or ``error`` (class, message, status). Everything the job prints has passed the
run's redactor.

The commit fence (runner.ingest.cancellation) needs an answer: the worker writes it into the
run's folder (``--fence-dir``), which the job waits for (the driver runs beside the worker, in
client deploy mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runner.ingest.cancellation import Fence
from runner.ingest.exceptions import HttpTerminalError, HttpTransientError, IngestError
from runner.ingest.inputs import RunInputs

if TYPE_CHECKING:
    from runner.ingest.job import RunResult

MARKER = "@@headwater "
#: A log message is cut to this many characters (the worker stores no more either).
MAX_MESSAGE = 50_000
#: The run is done (a ``result`` event came before).
EXIT_DONE = 0
#: It failed for good: retrying cannot help.
EXIT_TERMINAL = 1
#: EX_TEMPFAIL: it failed in a way a later attempt may not.
EXIT_TRANSIENT = 75
#: It was stopped (as a shell reports an interrupted command).
EXIT_STOPPED = 130


def parameter(text: str) -> tuple[str, str]:
    """`NAME=VALUE` from a command line."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"`{text}` is not NAME=VALUE")
    return name, value


def driver_arguments(
    plan_path: str, inputs: RunInputs, *, events: bool = True, fence_dir: str | None = None
) -> list[str]:
    """The job's arguments for one run of the plan stored at ``plan_path``."""
    args = [
        "--plan",
        plan_path,
        f"--run-id={inputs.run_id}",
        f"--logical-date={inputs.logical_date.isoformat()}",
        f"--from={inputs.start_date.isoformat()}",
        f"--to={inputs.end_date.isoformat()}",
    ]
    args += [f"--param={name}={value}" for name, value in sorted(inputs.parameters.items())]
    args += [f"--earlier-attempt={run_id}" for run_id in inputs.earlier_attempts]
    if fence_dir is not None:
        args.append(f"--fence-dir={fence_dir}")
    return [*args, "--events"] if events else args


def argument_parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="ingest_main", description="Run one Spark plan.")
    found.add_argument("--plan", required=True, help="the plan JSON (`headwater uis compile`)")
    found.add_argument("--run-id", default="manual")
    found.add_argument("--logical-date", type=date.fromisoformat, default=None)
    found.add_argument("--from", dest="start", type=date.fromisoformat, default=None)
    found.add_argument("--to", dest="end", type=date.fromisoformat, default=None)
    found.add_argument("--param", type=parameter, action="append", default=[])
    found.add_argument(
        "--earlier-attempt",
        dest="earlier",
        action="append",
        default=[],
        help="the run id of an earlier attempt of this run (repeated; newest first)",
    )
    found.add_argument(
        "--events", action="store_true", help=f"report on stdout as `{MARKER.strip()} JSON` lines"
    )
    found.add_argument("--fence-dir", default=None, help="where the worker answers the fence")
    return found


def summary(result: RunResult) -> dict[str, Any]:
    """A run's result as JSON values: what the worker records on the run."""
    return {
        "run_id": result.run_id,
        "rows_read": result.rows_read,
        "rows_written": result.rows_written,
        "snapshot_id": result.snapshot_id,
        "seconds": round(result.seconds, 3),
        "stats": dataclasses.asdict(result.stats),
        "written": [dataclasses.asdict(w) for w in result.written],
        "checks": [dataclasses.asdict(c) for c in result.checks],
    }


def error_event(exc: IngestError) -> dict[str, Any]:
    """An ``error`` event for an exception (its message is already free of secrets)."""
    status = exc.status if isinstance(exc, HttpTransientError | HttpTerminalError) else None
    return {"type": "error", "class": type(exc).__name__, "message": str(exc), "status": status}


class EventWriter:
    """A Reporter that writes the events as marked JSON lines (from any thread)."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, event: Mapping[str, Any]) -> None:
        line = MARKER + json.dumps(event, default=str, separators=(",", ":"))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def stage(self, name: str) -> None:
        self.emit({"type": "stage", "name": name})

    def progress(self, metrics: Mapping[str, float]) -> None:
        self.emit({"type": "progress", "metrics": dict(metrics)})

    def log(self, level: str, message: str) -> None:
        # One line per event: a huge message (a source's whole body quoted) is cut here.
        self.emit({"type": "log", "level": level, "message": message[:MAX_MESSAGE]})


@dataclass(frozen=True, slots=True)
class Event:
    """One event read back by the worker."""

    type: str
    data: dict[str, Any]


def decode(line: str) -> Event | None:
    """The event on a line of the job's output; None for any other line."""
    if not line.startswith(MARKER):
        return None
    try:
        data = json.loads(line[len(MARKER) :])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    return Event(data["type"], data)


_ANSWER = "fence.answer"
#: How long the job waits for the worker's answer before it gives up committing.
FENCE_SECONDS = 60.0


def answer_fence(folder: Path, allowed: bool) -> None:
    """The worker's side: tell the job in ``folder`` whether it may commit."""
    partial = folder / f"{_ANSWER}.partial"
    partial.write_text("yes" if allowed else "no")
    partial.replace(folder / _ANSWER)


def file_fence(folder: Path, events: EventWriter, timeout: float = FENCE_SECONDS) -> Fence:
    """The job's side: ask with a ``fence`` event, wait for the answer file."""

    def ask() -> bool:
        events.emit({"type": "fence"})
        deadline = time.monotonic() + timeout
        answer = folder / _ANSWER
        while time.monotonic() < deadline:
            if answer.exists():
                return answer.read_text().strip() == "yes"
            time.sleep(0.02)
        return False

    return ask
