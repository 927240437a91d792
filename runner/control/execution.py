"""What executing one run means to the worker, whichever way it runs (in process or submitted).

An executor runs a plan for a run's inputs and tells the run's `RunHandle` what happens (its
stages, log lines, progress, Spark application, and the commit fence); it returns an
`Outcome`. A user's cancel or the worker's own stop reaches it through the run's
`Cancellation`; cancelling the `execute` task itself ends the run by force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from runner.ingest.cancellation import Cancellation
from runner.ingest.inputs import RunInputs
from uis_compiler.plan import SparkPlan


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the job ended: `succeeded` with its summary, `failed` with why, or `stopped`."""

    kind: Literal["succeeded", "failed", "stopped"]
    result: dict[str, Any] | None = None
    error_class: str | None = None
    message: str | None = None


class RunHandle(Protocol):
    """The worker's side of one run: where the executor reports (async methods: in its loop)."""

    run_id: int

    def log(self, level: str, message: str) -> None: ...

    async def stage(self, name: str) -> None: ...

    async def progress(self, metrics: Mapping[str, float]) -> None: ...

    async def application(self, app_id: str) -> None: ...

    async def fence(self) -> bool: ...


class Executor(Protocol):
    """Runs plans: in the worker's warm session, or through spark-submit."""

    #: What `headwater worker` prints and the run's first log line says.
    description: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def free_slots(self) -> int: ...

    async def execute(
        self, plan: SparkPlan, inputs: RunInputs, handle: RunHandle, cancel: Cancellation
    ) -> Outcome: ...
