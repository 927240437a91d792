"""Runs through spark-submit, in client deploy mode: the driver is a child of this worker.

Client mode because Spark's standalone master cannot run a Python driver in cluster mode, and
because the driver beside the worker reports on its standard output (runner.ingest.protocol):
it never needs the database's credentials. A stop sends SIGTERM to the driver (it stops its
Spark jobs and exits); an end by force kills its whole process group. A driver that ends
without a result (killed, out of memory, its JVM gone) is `driver_lost`, which is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from runner.control import errors
from runner.control.execution import Outcome, RunHandle
from runner.control.submit import code_archive, driver_environment, submit_command
from runner.ingest import protocol
from runner.ingest.cancellation import Cancellation
from runner.ingest.inputs import RunInputs
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.plan import SparkPlan

log = structlog.get_logger("runner.control.submitted")
#: Lines of the driver's own output kept for a run that ends without a result.
_TAIL = 40
#: The longest line read from the driver (its events are capped well below this).
_LINE_LIMIT = 1 << 22


class SubmitExecutor:
    """Executes plans with spark-submit against the configured master."""

    def __init__(
        self,
        options: CompileOptions,
        work_dir: Path,
        slots: int,
        *,
        environ: Mapping[str, str] | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.work_dir = work_dir
        self.slots = slots
        self.environ = dict(os.environ if environ is None else environ)
        self.conf = dict(conf or {})
        self.description = f"spark-submit to {options.spark.master} ({slots} slot(s))"
        self._busy = 0
        self._code: Path | None = None

    async def start(self) -> None:
        self._code = await asyncio.to_thread(code_archive, self.work_dir / "code")

    async def close(self) -> None:
        return None

    def free_slots(self) -> int:
        return self.slots - self._busy

    async def execute(
        self, plan: SparkPlan, inputs: RunInputs, handle: RunHandle, cancel: Cancellation
    ) -> Outcome:
        folder = self.work_dir / "runs" / str(handle.run_id)
        shutil.rmtree(folder, ignore_errors=True)
        # The driver's log and the fence answer are this worker's and the driver's only.
        folder.mkdir(parents=True, mode=0o700)
        plan_file = folder / "plan.json"
        plan_file.write_text(plan.model_dump_json())
        plan_file.chmod(0o600)
        command = submit_command(
            plan,
            self.options,
            plan_file,
            inputs,
            code=self._code,
            extra=self.conf,
            fence_dir=folder,
        )
        self._busy += 1
        try:
            outcome = await self._drive(command, folder, handle, cancel)
        finally:
            self._busy -= 1
        if outcome.kind == "succeeded":
            # Kept only when something went wrong: the driver's log is for post-mortems.
            shutil.rmtree(folder, ignore_errors=True)
        return outcome

    async def _drive(
        self, command: list[str], folder: Path, handle: RunHandle, cancel: Cancellation
    ) -> Outcome:
        with (folder / "driver.log").open("wb") as driver_log:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=driver_log,
                env=driver_environment(self.environ),
                # Its own process group: a forced end takes the JVM and the driver with it.
                start_new_session=True,
                # One event per line; a log line of the job may be long (it is capped there).
                limit=_LINE_LIMIT,
            )
            driver = _Driver(process, handle, folder)
            try:
                with cancel.on_cancel(driver.stop):
                    await driver.follow()
                    code = await process.wait()
            except BaseException:
                # Whatever ends the waiting (a forced end, an outage at a stage), the driver
                # goes too: a driver left running would hold its slot's resources unseen.
                driver.kill()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(process.wait(), 10)
                raise
        return driver.outcome(code, folder / "driver.log")


class _Driver:
    """One spark-submit process and what its driver reported."""

    def __init__(self, process: asyncio.subprocess.Process, handle: RunHandle, folder: Path):
        self.process = process
        self.handle = handle
        self.folder = folder
        self.pid: int | None = None
        self.last: dict[str, Any] | None = None
        self.loop = asyncio.get_running_loop()

    async def follow(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            event = protocol.decode(raw.decode("utf-8", "replace").rstrip("\n"))
            if event is None:
                continue
            try:
                await self._handle(event)
            except (KeyError, TypeError, ValueError) as exc:
                # A malformed event is the driver's bug, not a reason to lose the run.
                log.warning("submitted.bad_event", type=event.type, error=str(exc))

    async def _handle(self, event: protocol.Event) -> None:
        data = event.data
        if event.type == "started":
            self.pid = int(data["pid"])
            await self.handle.application(str(data["app_id"]))
        elif event.type == "stage":
            await self.handle.stage(str(data["name"]))
        elif event.type == "log":
            self.handle.log(str(data["level"]), str(data["message"]))
        elif event.type == "progress":
            metrics = {str(k): float(v) for k, v in dict(data["metrics"]).items()}
            await self.handle.progress(metrics)
        elif event.type == "fence":
            protocol.answer_fence(self.folder, await self.handle.fence())
        elif event.type in ("result", "error"):
            self.last = data

    def stop(self) -> None:
        """SIGTERM to the driver (it stops cleanly); before it announced itself, to the group."""
        # Called from the thread that cancels; signals are safe from any thread.
        with contextlib.suppress(ProcessLookupError):
            if self.pid is not None:
                os.kill(self.pid, signal.SIGTERM)
            else:
                os.killpg(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def outcome(self, code: int, driver_log: Path) -> Outcome:
        last = self.last or {}
        if last.get("type") == "result":
            return Outcome("succeeded", result={k: v for k, v in last.items() if k != "type"})
        if last.get("type") == "error" or code == protocol.EXIT_STOPPED:
            if last.get("class") == "CanceledError" or code == protocol.EXIT_STOPPED:
                return Outcome("stopped", message=str(last.get("message") or "stopped"))
            kind = errors.of_exception(str(last.get("class")))
            return Outcome("failed", error_class=kind.name, message=str(last.get("message")))
        tail = _tail(driver_log)
        log.warning("submitted.driver_lost", run_id=self.handle.run_id, exit=code)
        return Outcome(
            "failed",
            error_class="driver_lost",
            message=f"the Spark driver ended (exit status {code}) without a result; its last "
            f"output is in {driver_log}" + (f" (it names {tail})" if tail else ""),
        )


_EXCEPTION_NAME = re.compile(r"\b(?:[a-z_][\w]*\.)*[A-Z]\w*(?:Exception|Error)\b")


def _tail(path: Path) -> str:
    """The last exception names in the driver's own output (names only: a message might
    quote anything, and only the job's redactor knows the run's secrets)."""
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").splitlines()[-_TAIL:]
        names = [name for line in lines for name in _EXCEPTION_NAME.findall(line)]
        return ", ".join(dict.fromkeys(names[-3:]))
    return ""
