"""CPU seconds spent by each part of this process tree while a step runs: where a run's time went.

The parts are told apart by command line: the local Polygon server, Spark's JVM (with its JIT
compiler threads counted apart), Spark's Python workers, and this process (the driver, or a
baseline's client). Processes that end during the step count through their parent's reaped
children; the JIT threads are read from /proc (Linux), like the rest of the benchmark's stack.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

SERVER, JVM, JIT, WORKERS, THIS, OTHER = (
    "server",
    "JVM",
    "JIT",
    "Python workers",
    "this process",
    "other",
)


#: /proc counts CPU time in clock ticks.
_CLOCK_TICKS = float(os.sysconf("SC_CLK_TCK"))


def _role(process: psutil.Process, me: int) -> str:
    if process.pid == me:
        return THIS
    command = " ".join(process.cmdline())
    if "standins.polygon" in command:
        return SERVER
    if process.name() == "java":
        return JVM
    if "pyspark" in command:
        return WORKERS
    return OTHER


def _jit_seconds(pid: int) -> float:
    """CPU seconds of a JVM's compiler threads (C1/C2), from /proc."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if not (task / "comm").read_text().startswith(("C1 Compiler", "C2 Compiler")):
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


def _snapshot() -> dict[int, tuple[str, float, float]]:
    """pid -> (role, CPU seconds including reaped children, JIT seconds) for the whole tree."""
    me = psutil.Process()
    seen: dict[int, tuple[str, float, float]] = {}
    for process in [me, *me.children(recursive=True)]:
        try:
            with process.oneshot():
                role = _role(process, me.pid)
                cpu = process.cpu_times()
                seconds = cpu.user + cpu.system + cpu.children_user + cpu.children_system
            jit = _jit_seconds(process.pid) if role == JVM else 0.0
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen[process.pid] = (role, seconds, jit)
    return seen


@dataclass
class CpuSplit:
    """CPU seconds per part over one step, and the step's wall time."""

    seconds: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    @property
    def total(self) -> float:
        # The JIT's seconds are part of the JVM's already.
        return sum(value for role, value in self.seconds.items() if role != JIT)

    def describe(self, pages: int) -> str:
        """One line: core-seconds and milliseconds per page of each part, and cores in use."""
        parts = [
            f"{role} {value:.2f} s ({value / pages * 1000:.2f} ms/page)"
            for role, value in sorted(self.seconds.items(), key=lambda item: -item[1])
            if value >= 0.05
        ]
        cores = self.total / self.wall if self.wall else 0.0
        return f"{'; '.join(parts)}; {cores:.2f} cores busy on average"


class CpuMeter:
    """``with CpuMeter() as meter: ...`` then ``meter.split``."""

    def __init__(self) -> None:
        self.split = CpuSplit()
        self._before: dict[int, tuple[str, float, float]] = {}
        self._started = 0.0

    def __enter__(self) -> CpuMeter:
        self._before = _snapshot()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.split.wall = time.perf_counter() - self._started
        for pid, (role, seconds, jit) in _snapshot().items():
            _, seconds_before, jit_before = self._before.get(pid, (role, 0.0, 0.0))
            self.split.seconds[role] = self.split.seconds.get(role, 0.0) + seconds - seconds_before
            if role == JVM:
                self.split.seconds[JIT] = self.split.seconds.get(JIT, 0.0) + jit - jit_before
