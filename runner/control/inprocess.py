"""Runs in the worker's own warm SparkSession: one thread and one child session per slot.

Each slot has its own session (``newSession``: the same SparkContext, its own views and SQL
settings), so two runs at once never see each other's views, and its own FAIR scheduler pool,
so one run's stages do not queue behind another's. A run's Spark jobs carry its job group,
which a stop cancels. A thread cannot be killed: a run ended by force keeps its slot until its
thread returns.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import SparkSession

from runner.config import DataPlaneConfig
from runner.control import db, errors
from runner.control.execution import Outcome, RunHandle
from runner.ingest import protocol
from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import CanceledError, IngestError, PlatformUnavailableError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.spark_session import spark_session
from uis_compiler.plan import SparkPlan

#: How long a job thread waits for the worker to record its start: longer than the worker
#: waits out a database outage, so the wait ends with the worker's own answer.
_HANDSHAKE_SECONDS = db.OUTAGE_SECONDS + 30.0


class _ThreadReporter:
    """The job's Reporter on a job thread, passing everything to the run's handle."""

    def __init__(self, handle: RunHandle, loop: asyncio.AbstractEventLoop) -> None:
        self.handle = handle
        self.loop = loop

    def stage(self, name: str) -> None:
        # Waited for: the run is RUNNING before the job logs a line of its first stage.
        future = asyncio.run_coroutine_threadsafe(self.handle.stage(name), self.loop)
        try:
            future.result(_HANDSHAKE_SECONDS)
        except Exception as exc:
            raise PlatformUnavailableError(
                f"the worker could not record the run's {name} stage ({type(exc).__name__})"
            ) from None

    def progress(self, metrics: Mapping[str, float]) -> None:
        asyncio.run_coroutine_threadsafe(self.handle.progress(dict(metrics)), self.loop)

    def log(self, level: str, message: str) -> None:
        self.handle.log(level, message)


class InProcessExecutor:
    """Executes plans on the warm session of this process."""

    def __init__(self, data_plane: DataPlaneConfig, job: JobConfig, slots: int) -> None:
        self.data_plane = data_plane
        self.job = job
        self.slots = slots
        self.description = f"in process ({data_plane.master}, {slots} slot(s))"
        self._threads = ThreadPoolExecutor(slots, thread_name_prefix="headwater-run")
        self._free: list[tuple[int, SparkSession]] = []

    async def start(self) -> None:
        """Warm the session (seconds, once): runs then start without waiting for Spark."""
        base = await asyncio.to_thread(spark_session, self.data_plane)
        self._free = [(slot, base.newSession()) for slot in range(self.slots)]

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    def free_slots(self) -> int:
        return len(self._free)

    async def execute(
        self, plan: SparkPlan, inputs: RunInputs, handle: RunHandle, cancel: Cancellation
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        slot, session = self._free.pop()
        reporter = _ThreadReporter(handle, loop)

        def work() -> RunResult:
            # Local properties follow the thread: this slot's runs share its pool.
            session.sparkContext.setLocalProperty("spark.scheduler.pool", f"slot-{slot}")
            return run_plan(session, plan, inputs, reporter, self.job, cancel)

        # Log lines carry the worker's structured-log context (the run id) into the thread.
        future = loop.run_in_executor(self._threads, contextvars.copy_context().run, work)
        future.add_done_callback(lambda _: self._free.append((slot, session)))
        try:
            result = await asyncio.shield(future)
        except CanceledError as exc:
            return Outcome("stopped", message=exc.reason)
        except IngestError as exc:
            kind = errors.of_exception(type(exc).__name__)
            return Outcome("failed", error_class=kind.name, message=str(exc))
        return Outcome("succeeded", result=protocol.summary(result))
