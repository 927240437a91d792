"""`headwater worker`: claims queued runs, executes them, and ends every run it claimed.

The worker holds a lease on each run it claimed and renews all of them itself (never the job,
so a long rate-limit wait inside a job never looks like a dead worker). Runs are picked up as
soon as they are announced, stopped as soon as a cancel is, and timed out when they start or
run too long. Every worker also reaps the runs of workers that stopped renewing. On SIGTERM it
stops claiming, lets its runs finish within a grace period, then stops them; they fail as
`worker_shutdown` and are retried like a lost worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import structlog
from prometheus_client import start_http_server
from pydantic import ValidationError

from api.models.enums import RunStatus
from runner.control import db, metrics, queue
from runner.control.config import WorkerConfig
from runner.control.events import EventLog
from runner.control.execution import Executor, Outcome
from runner.control.listen import StatusListener
from runner.control.queue import Claimed, Ending
from runner.control.retry import Attempts
from runner.control.run import RunTask, Stop
from runner.ingest.inputs import RunInputs
from uis_compiler.plan import SparkPlan

log = structlog.get_logger("runner.control.worker")
T = TypeVar("T")


class Worker:
    """One worker process: its pool, its event writer, its runs and its loops."""

    def __init__(
        self,
        config: WorkerConfig,
        executor: Executor,
        *,
        background: Callable[[asyncpg.Pool], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.config = config
        self.executor = executor
        #: Something else to run beside the loops (the scheduler, when it runs in the worker).
        self.background = background
        self.name = config.name
        self.runs: dict[int, RunTask] = {}
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_renewal = time.monotonic()
        self.pool: asyncpg.Pool
        self.events: EventLog

    async def run(self) -> None:
        """Work until SIGTERM/SIGINT (or ``stopping`` is set), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stopping.set)
        # A connection per slot for its runs, and a few for the loops.
        self.pool = await db.pool(
            self.config.database_url, self.config.slots + 4, f"headwater-worker {self.name}"
        )
        self.events = EventLog(self.pool, self.config.flush_seconds)
        await self.executor.start()
        if self.config.metrics_port is not None:
            start_http_server(self.config.metrics_port, addr=self.config.metrics_host)
        listener = StatusListener(self.config.database_url, self._announced, self._wake.set)
        loops = [
            _supervised("events", self.events.run),
            _supervised("listen", listener.run),
            _supervised("heartbeat", self._heartbeat),
            _supervised("reap", self._reap),
            _supervised("gauges", self._gauges),
        ]
        background = self.background
        if background is not None:
            loops.append(_supervised("scheduler", lambda: background(self.pool)))
        log.info("worker.started", worker=self.name, executor=self.executor.description)
        try:
            await self._claim_until_stopped()
            await self._shut_down()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.executor.close()
            await self.pool.close()
            log.info("worker.stopped", worker=self.name)

    # Claiming.

    def free_slots(self) -> int:
        waiting = sum(1 for run in self.runs.values() if not run.entered)
        return min(self.config.slots - len(self.runs), self.executor.free_slots() - waiting)

    async def _claim_until_stopped(self) -> None:
        while not self.stopping.is_set():
            self._wake.clear()
            free = self.free_slots()
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    claimed = await queue.claim(
                        self.pool, self.name, free, self.config.lease_seconds
                    )
                except db.OUTAGE as exc:
                    log.warning("worker.claim_failed", error=str(exc))
            for run in claimed:
                self._start(run)
            if claimed and len(claimed) == free:
                continue
            stop = asyncio.ensure_future(self.stopping.wait())
            wake = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait(
                {stop, wake}, timeout=self.config.poll_seconds, return_when="FIRST_COMPLETED"
            )
            stop.cancel()
            wake.cancel()

    def _start(self, claimed: Claimed) -> None:
        run = RunTask(self, claimed)
        self.runs[claimed.id] = run
        task = asyncio.create_task(self._execute(run), name=f"run-{claimed.id}")
        run.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _announced(self, run_id: int, status: str) -> None:
        if status == RunStatus.QUEUED:
            self._wake.set()
        elif status == RunStatus.CANCELING and run_id in self.runs:
            self.runs[run_id].stop(Stop.USER)

    # One run.

    async def _execute(self, run: RunTask) -> None:
        claimed = run.claimed
        with structlog.contextvars.bound_contextvars(run_id=claimed.id):
            log.info("run.claimed", attempt=claimed.attempt, provider=claimed.provider_name)
            watchdog = asyncio.create_task(self._watch(run))
            try:
                ending = await self._outcome(run)
                # Past here nothing ends the run by force: its end is written whole.
                watchdog.cancel()
                await asyncio.shield(self._end(run, ending))
            except Exception:
                # Its lease is no longer renewed: a reaper ends it as lost.
                log.exception("run.crashed")
            finally:
                watchdog.cancel()
                self.runs.pop(claimed.id, None)
                self._wake.set()

    async def _outcome(self, run: RunTask) -> Ending:
        claimed = run.claimed
        try:
            plan = SparkPlan.model_validate((claimed.compiled or {}).get("plan"))
        except ValidationError as exc:
            message = f"the stored plan of this spec version cannot be run: {exc.errors()[0]}"
            return Ending(RunStatus.FAILED, "invalid_plan", message)
        if plan.spec.tenant_id != claimed.tenant_id:
            # Secrets are granted by the plan's tenant: a plan must not speak for another.
            message = (
                f"the stored plan names tenant `{plan.spec.tenant_id}`, but the run belongs to "
                f"`{claimed.tenant_id}`"
            )
            return Ending(RunStatus.FAILED, "refused", message)
        run.plan = plan
        attempts = Attempts.of(plan.execution.model_dump())
        inputs = _inputs(plan, claimed)
        run.log(
            "INFO",
            f"attempt {claimed.attempt} of {attempts.max_attempts}, claimed by worker "
            f"{self.name}; runs {self.executor.description}",
        )
        run.entered = True
        try:
            outcome = await self.executor.execute(plan, inputs, run, run.cancel)
        except asyncio.CancelledError:
            if run.forced is None:
                raise
            outcome = Outcome("stopped", message=run.forced)
        except Exception as exc:
            log.exception("run.executor_failed")
            outcome = Outcome("failed", error_class="unexpected", message=type(exc).__name__)
        return run.ending(outcome)

    async def _end(self, run: RunTask, ending: Ending) -> None:
        if ending.result is not None:
            run.describe_result(ending.result)
        if ending.status is RunStatus.FAILED:
            run.log("ERROR", f"{ending.error_class}: {ending.message}")
        await self.events.flush(run.claimed.id)
        ended = await self.retrying(
            lambda: queue.finish(self.pool, run.claimed.id, self.name, ending)
        )
        if ended is None:
            log.warning("run.no_longer_held")
            return
        seconds = time.monotonic() - run.claimed_at
        metrics.RUNS_FINISHED.labels(ended.status.value).inc()
        metrics.RUN_SECONDS.labels(ended.status.value).observe(seconds)
        if ending.result is not None:
            metrics.ROWS_WRITTEN.inc(int(ending.result.get("rows_written") or 0))
        if ended.retry_id is not None:
            metrics.RETRIES_QUEUED.inc()
        log.info(
            "run.ended",
            status=ended.status.value,
            error_class=ending.error_class,
            retry=ended.retry_id,
            seconds=round(seconds, 3),
        )

    async def _watch(self, run: RunTask) -> None:
        """Timeouts: starting, running (the spec's max runtime, within ours), and stopping."""
        config = self.config
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            limit = config.max_runtime_seconds
            if run.plan is not None and run.plan.execution.max_runtime_seconds is not None:
                limit = min(limit, run.plan.execution.max_runtime_seconds)
            if run.running_since is None:
                if now - run.claimed_at > config.start_timeout_seconds:
                    run.stop(Stop.START_TIMEOUT)
            elif run.committing_since is not None:
                # A commit under way is not stopped; only one that hangs (as long again as a
                # whole run may take) is ended by force.
                if now - run.committing_since > limit:
                    run.force("its commit did not end in time")
                    return
            elif now - run.running_since > limit:
                run.stop(Stop.TIMED_OUT, f"it ran longer than its max runtime ({limit:g} s)")
            stopping = run.stopping_since
            if stopping is not None and now - stopping > config.cancel_timeout_seconds:
                run.force(f"it did not stop within {config.cancel_timeout_seconds:g} s")
                return

    # Leases.

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                # Only the runs this process executes: a run it lost track of expires and is
                # reaped, rather than held for as long as the worker lives.
                held = await queue.renew(
                    self.pool, self.name, self.config.lease_seconds, list(self.runs)
                )
            except db.OUTAGE as exc:
                metrics.LEASE_RENEWAL_FAILURES.inc()
                log.warning("worker.renew_failed", error=str(exc))
                if time.monotonic() - self._last_renewal > self.config.lease_seconds * 0.8:
                    # Others may take these runs for lost: stop them before a commit.
                    for run in list(self.runs.values()):
                        run.stop(Stop.LEASE_LOST)
                continue
            self._last_renewal = time.monotonic()
            metrics.LEASE_RENEWALS.inc()
            for run_id, run in list(self.runs.items()):
                status = held.get(run_id)
                if status is None and run.task is not None and not run.task.done():
                    run.stop(Stop.LEASE_LOST)
                elif status is RunStatus.CANCELING:
                    run.stop(Stop.USER)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(self.config.reap_seconds)
            try:
                reaped = await queue.reap(self.pool, list(self.runs))
            except db.OUTAGE as exc:
                log.warning("worker.reap_failed", error=str(exc))
                continue
            for found in reaped:
                metrics.REAPED.inc()
                log.warning(
                    "worker.reaped", run_id=found.id, status=found.status, retry=found.retry_id
                )
            if any(found.retry_id is not None for found in reaped):
                self._wake.set()

    async def _gauges(self) -> None:
        while True:
            with contextlib.suppress(*db.OUTAGE):
                depth = await queue.queue_depth(self.pool)
                for status, count in depth.items():
                    metrics.RUNS_BY_STATUS.labels(status).set(count)
                metrics.QUEUE_DEPTH.set(depth["QUEUED"])
            metrics.RUNS_ACTIVE.set(len(self.runs))
            await asyncio.sleep(5.0)

    # Shutdown.

    async def _shut_down(self) -> None:
        tasks = set(self._tasks)
        if not tasks:
            return
        log.info("worker.draining", runs=len(tasks), grace=self.config.shutdown_grace_seconds)
        await asyncio.wait(tasks, timeout=self.config.shutdown_grace_seconds)
        for run in list(self.runs.values()):
            run.stop(Stop.SHUTDOWN)
        left = {task for task in tasks if not task.done()}
        if left:
            await asyncio.wait(left, timeout=self.config.cancel_timeout_seconds)
        for run in list(self.runs.values()):
            run.force("the worker is shutting down")
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.events.flush(timeout=10.0)

    async def retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run a database step, waiting out an outage (a restart) of a few minutes."""
        return await db.retrying(step)


def _inputs(plan: SparkPlan, claimed: Claimed) -> RunInputs:
    """The run's window as stored when it was queued (the plan's lookback when it has none)."""
    logical = claimed.logical_date or claimed.window_end or datetime.now(UTC).date()
    return RunInputs.for_window(
        plan,
        str(claimed.id),
        logical_date=logical,
        start=claimed.window_start,
        end=claimed.window_end,
        parameters={str(k): str(v) for k, v in claimed.parameters.items()},
        earlier_attempts=tuple(str(ident) for ident in claimed.earlier_attempts),
    )


def _supervised(name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
    """A loop of the worker that is restarted when it fails (and says so), until cancelled."""

    async def keep() -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker.loop_failed", loop=name)
                await asyncio.sleep(1.0)

    return asyncio.create_task(keep(), name=name)
