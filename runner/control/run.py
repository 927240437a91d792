"""One claimed run inside the worker: what the executor reports to, and how the run stops.

A `RunTask` is the executor's `RunHandle`: it queues the run's events, moves the run to
RUNNING at the job's first stage (after the events before it are stored), keeps its counters
current, records its Spark application, and answers the commit fence from the database. A stop
(a user's cancel, a timeout, a lost lease, shutdown) goes to the job through its Cancellation;
a run that does not stop in time is ended by force.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog

from api.models.enums import EventKind, RunStatus
from runner.control import db, metrics, queue
from runner.control.events import EventLog
from runner.control.execution import Outcome
from runner.control.queue import Claimed, Ending
from runner.ingest.cancellation import Cancellation
from uis_compiler.plan import SparkPlan

log = structlog.get_logger("runner.control.run")
#: How often a running run's counters are written to its row (events carry every report).
_COUNTERS_SECONDS = 1.0


T = TypeVar("T")


class Host(Protocol):
    """What a run needs of its worker."""

    name: str
    pool: asyncpg.Pool
    events: EventLog

    async def retrying(self, step: Callable[[], Awaitable[T]]) -> T: ...


class Stop(Enum):
    """Why the worker stops a run, and how the run then ends."""

    USER = ("canceled by its user", None)
    TIMED_OUT = ("it ran longer than its max runtime", "timed_out")
    START_TIMEOUT = ("it did not start within the start timeout", "start_timeout")
    SHUTDOWN = ("the worker is shutting down", "worker_shutdown")
    LEASE_LOST = ("its worker could not renew its lease", "worker_lost")
    PLATFORM = ("the database was away when the run was to commit", "platform_unavailable")

    def __init__(self, text: str, error_class: str | None) -> None:
        self.text = text
        self.error_class = error_class


class RunTask:
    """The worker's side of one run it holds."""

    def __init__(self, worker: Host, claimed: Claimed) -> None:
        self.worker = worker
        self.claimed = claimed
        self.run_id = claimed.id
        self.loop = asyncio.get_running_loop()
        self.cancel = Cancellation(self._fence_from_thread)
        self.claimed_at = time.monotonic()
        self.running_since: float | None = None
        self.stopping_since: float | None = None
        self.committing = False
        self.committing_since: float | None = None
        self.cause: Stop | None = None
        self.cause_text: str | None = None
        self.forced: str | None = None
        self.entered = False
        self.plan: SparkPlan | None = None
        self.task: asyncio.Task[None] | None = None
        self._counters_at = 0.0
        self._seen: dict[str, float] = {}
        self._last_progress: dict[str, float] = {}

    # What the executor reports.

    def log(self, level: str, message: str) -> None:
        self.worker.events.add(self.run_id, EventKind.LOG, message, level=level)

    async def stage(self, name: str) -> None:
        if self.running_since is None:
            # The run is RUNNING after what was logged before it, and before its first stage.
            await self.worker.events.flush(self.run_id)
            status = await self.worker.retrying(
                lambda: queue.start_running(self.worker.pool, self.run_id, self.worker.name)
            )
            self.running_since = time.monotonic()
            metrics.CLAIM_TO_RUNNING.observe(self.running_since - self.claimed_at)
            if status is None:
                self.stop(Stop.LEASE_LOST)
            elif status is RunStatus.CANCELING:
                self.stop(Stop.USER)
        self.worker.events.add(
            self.run_id, EventKind.PROGRESS, f"stage {name}", payload={"stage": name}
        )

    async def progress(self, metrics_now: Mapping[str, float]) -> None:
        if dict(metrics_now) == self._last_progress:
            return  # a report every second while nothing moved says nothing new
        self._last_progress = dict(metrics_now)
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(metrics_now.items()))
        self.worker.events.add(
            self.run_id, EventKind.PROGRESS, shown, payload={"metrics": dict(metrics_now)}
        )
        for name, counter in (
            ("retries", metrics.REQUEST_RETRIES),
            ("rate_limit_wait_seconds", metrics.RATE_LIMIT_WAIT),
        ):
            value = float(metrics_now.get(name, 0.0))
            counter.inc(max(0.0, value - self._seen.get(name, 0.0)))
            self._seen[name] = value
        now = time.monotonic()
        if now - self._counters_at >= _COUNTERS_SECONDS:
            self._counters_at = now
            try:
                await queue.record_progress(self.worker.pool, self.run_id, dict(metrics_now))
            except db.OUTAGE as exc:
                # Counters catch up at the next report; the events carry every one.
                log.warning("run.counters_not_written", error=str(exc))

    async def application(self, app_id: str) -> None:
        self.log("INFO", f"Spark application {app_id}")
        await self.worker.retrying(lambda: queue.record_app(self.worker.pool, self.run_id, app_id))

    async def fence(self) -> bool:
        """May the job commit? Yes only while nobody asked to cancel it (the database says)."""
        await self.worker.events.flush(self.run_id)
        try:
            allowed = await self.worker.retrying(
                lambda: queue.begin_commit(self.worker.pool, self.run_id, self.worker.name)
            )
        except db.OUTAGE:
            # Not committing is safe; the run fails as transient and is retried.
            self.cause = self.cause or Stop.PLATFORM
            return False
        if allowed:
            self.committing = True
            self.committing_since = time.monotonic()
        elif self.cause is None:
            # Only a cancel (or a lost lease, and then nothing is written) stops the fence.
            self.cause = Stop.USER
        return allowed

    def _fence_from_thread(self) -> bool:
        # Longer than the fence waits out an outage, so the answer is always the fence's own.
        return asyncio.run_coroutine_threadsafe(self.fence(), self.loop).result(
            db.OUTAGE_SECONDS + 30.0
        )

    # Stopping.

    def stop(self, cause: Stop, text: str | None = None) -> None:
        """Ask the job to stop (once); ignored while it commits."""
        if self.committing or self.cause is not None:
            return
        self.cause = cause
        self.cause_text = text or cause.text
        log.info("run.stopping", run_id=self.run_id, cause=cause.name, why=self.cause_text)
        self.log("WARNING", f"stopping the run: {self.cause_text}")
        if self.cancel.cancel(self.cause_text):
            self.stopping_since = time.monotonic()
        else:
            self.cause = None

    def force(self, why: str) -> None:
        """End the run now: its executor stops waiting for the job (a driver is killed)."""
        if self.task is None or self.task.done() or self.forced is not None:
            return
        self.forced = why
        self.log("WARNING", f"ending the run by force: {why}")
        self.task.cancel()

    def ending(self, outcome: Outcome) -> Ending:
        """The run's final status from what the job did and why it was stopped."""
        if outcome.kind == "succeeded":
            return Ending(RunStatus.SUCCEEDED, result=outcome.result)
        if outcome.kind == "failed":
            return Ending(RunStatus.FAILED, outcome.error_class, outcome.message)
        cause = self.cause
        if cause is Stop.USER:
            return Ending(RunStatus.CANCELED, message=cause.text)
        if cause is None:
            # Nobody here stopped it: its driver was stopped from outside.
            return Ending(RunStatus.FAILED, "driver_lost", outcome.message)
        return Ending(RunStatus.FAILED, cause.error_class, self.cause_text)

    def describe_result(self, result: Mapping[str, Any]) -> None:
        """The run's metrics and quality results as events (the run's page shows them)."""
        for check in result.get("checks") or []:
            state = "passed" if check.get("passed") else "failed"
            self.worker.events.add(
                self.run_id,
                EventKind.QUALITY,
                f"{check.get('name')} {state} (observed {check.get('observed')})",
                level="INFO" if check.get("passed") else "WARNING",
                payload=dict(check),
            )
        metric = {k: v for k, v in result.items() if k != "checks"}
        self.worker.events.add(
            self.run_id,
            EventKind.METRIC,
            f"{result.get('rows_written')} row(s) written in {result.get('seconds')} s",
            payload=metric,
        )
