"""Runs of the ingest job for the benchmark: timed end to end, by phase, and to its first request."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from ingest_plan import Workload, polygon_plan
from pyspark.sql import SparkSession

from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from standins.polygon.server import RunningSim
from uis_compiler.plan import SparkPlan

CATALOG = "headwater"
#: No periodic progress: the one report left is the job's own at the end of fetching, which
#: then marks where fetch + map ends and transform + checks + commit begin.
QUIET = JobConfig(progress_interval_seconds=3600.0)


class TimingReporter:
    """Keeps the time of the last progress report (the end of fetching); drops the lines."""

    def __init__(self) -> None:
        self.last_progress = 0.0
        self.lines: list[str] = []

    def stage(self, name: str) -> None:
        self.lines.append(f"stage {name}")

    def progress(self, metrics: Mapping[str, float]) -> None:
        self.last_progress = time.perf_counter()

    def log(self, level: str, message: str) -> None:
        self.lines.append(f"{level} {message}")


@dataclass(frozen=True)
class Timed:
    """One run and where its time went."""

    result: RunResult
    seconds: float
    fetch_seconds: float

    @property
    def commit_seconds(self) -> float:
        return self.seconds - self.fetch_seconds

    @property
    def rows_per_second(self) -> float:
        return self.result.rows_written / self.seconds


def run(spark: SparkSession, plan: SparkPlan, work: Workload, run_id: str) -> Timed:
    """One run of ``plan`` over the workload's window, timed from the call to its return."""
    inputs = RunInputs.for_window(
        plan, run_id, logical_date=work.end, start=work.start, end=work.end
    )
    reporter = TimingReporter()
    started = time.perf_counter()
    result = run_plan(spark, plan, inputs, reporter, QUIET)
    finished = time.perf_counter()
    return Timed(result, finished - started, reporter.last_progress - started)


def namespace() -> str:
    return f"bench_ingest_{uuid.uuid4().hex[:8]}"


def drop(spark: SparkSession, space: str) -> None:
    """Drop the benchmark's namespace with its tables and their files."""
    if not spark.catalog.databaseExists(f"{CATALOG}.{space}"):
        return
    for table in spark.sql(f"SHOW TABLES IN {CATALOG}.{space}").collect():
        spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{space}.{table.tableName} PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{space}")


def _first_requests(sim: RunningSim, counts: tuple[int, ...], stop: threading.Event) -> list[float]:
    """perf_counter times at which the server's request count first reached each of ``counts``."""
    seen: list[float] = []
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        while len(seen) < len(counts) and not stop.is_set():
            requests = client.get("/_control/stats").json()["requests"]
            now = time.perf_counter()
            while len(seen) < len(counts) and requests >= counts[len(seen)]:
                seen.append(now)
            time.sleep(0.002)
    return seen


def _poll(sim: RunningSim, found: list[float], stop: threading.Event) -> None:
    # The driver samples the first chain's first page, then executors fetch every chain.
    found.extend(_first_requests(sim, (1, 2), stop))


@dataclass(frozen=True)
class WarmStart:
    """Seconds from calling run_plan to the first request reaching the server (median of runs)."""

    first_request: float
    first_executor_request: float
    total: float
    runs: int


def warm_start(
    spark: SparkSession, sim: RunningSim, work: Workload, table: str, runs: int
) -> WarmStart:
    """Small runs (a few tickers, a week) on the warm session, timed to their first requests."""
    tickers = work.tickers[:4]
    plan = polygon_plan(work, table, tickers=tickers)
    small = Workload(work.base_url, work.key, tickers, work.end.replace(day=1), work.end)
    firsts: list[float] = []
    executors: list[float] = []
    totals: list[float] = []
    for number in range(runs):
        sim.reset()
        found: list[float] = []
        stop = threading.Event()
        poller = threading.Thread(target=_poll, args=(sim, found, stop), daemon=True)
        poller.start()
        started = time.perf_counter()
        timed = run(spark, plan, small, f"bench-warm-{number}")
        stop.set()
        poller.join()
        if len(found) < 2:
            raise RuntimeError("the poller saw no request reach the server")
        firsts.append(found[0] - started)
        executors.append(found[1] - started)
        totals.append(timed.seconds)
    return WarmStart(
        statistics.median(firsts), statistics.median(executors), statistics.median(totals), runs
    )
