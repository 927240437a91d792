"""Benchmark: 2,000 tickers x 1 year of daily bars from the local Polygon server into Iceberg.

Run with `make bench-ingest` (it starts PostgreSQL and fetches the Spark jars first). The local
Polygon server runs as a separate process, so it does not share this process's interpreter lock.
Measured in the same run, on the same pages:

- the ingest job (`run_plan` on a warm in-process session): wall time from the call to its
  return, split into fetch + map (until the fetched rows are cached) and transform + checks +
  Iceberg MERGE; rows written per second. The median of three runs, each merging into a table
  that a warm-up run of other tickers created (the first warm-up also warms the JVM's JIT);
- baseline (a), the source's limit: a plain asyncio + httpx loop that reads every page and
  drops it (the best of a few concurrencies);
- baseline (b), a peer: dlt's REST API source loading the same pages into Parquet files;
- the warm start: seconds from calling `run_plan` to the first request reaching the server;
- where the CPU went in (a) and in each measured run: the server, the JVM (and its JIT), the
  Python workers and this process, in core-seconds and per page.

Targets (issue): the job at >= 50% of (a) and >= 1.5x (b) in rows/s; warm start <= 1 s.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

import ingest_dlt
import ingest_httpx
from cpu import CpuMeter
from ingest_job import Timed, drop, namespace, run, warm_start
from ingest_plan import Workload, polygon_plan, reference_tickers
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.ingest.spark_fetch import task_slots
from runner.spark_session import spark_session, stop_session
from standins.polygon.config import SimConfig
from standins.polygon.server import RunningSim, start_process

TICKERS = int(os.environ.get("BENCH_TICKERS", "2000"))
#: Tickers of the warm-up run: others than the measured ones, so the measured run inserts only.
WARM_UP_TICKERS = 300
START, END = date(2023, 1, 1), date(2023, 12, 31)
#: The example's own setting (BENCH_CONCURRENCY overrides it); the job keeps this many requests
#: in flight per task slot.
CONCURRENT_REQUESTS = int(os.environ.get("BENCH_CONCURRENCY", "8"))
WARM_START_RUNS = 5
#: Measured runs, each into a table of its own that a warm-up run created; the median counts.
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DLT_WORKERS = (8, 16)
TARGET_SHARE_OF_SOURCE = 0.5
TARGET_RATIO_TO_DLT = 1.5
TARGET_WARM_START_S = 1.0


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def source_limit(work: Workload, concurrencies: list[int]) -> ingest_httpx.Fetched:
    """Baseline (a): the best pass of the plain loop, two passes per concurrency."""
    passes = []
    with CpuMeter() as meter:
        for _ in range(2):
            for concurrency in concurrencies:
                fetched = ingest_httpx.fetch_all(work, concurrency)
                print(
                    f"  plain httpx loop, {concurrency:3d} in flight: {fetched.seconds:6.2f} s, "
                    f"{fetched.pages_per_second:7.0f} pages/s, "
                    f"{fetched.rows_per_second:9,.0f} rows/s"
                )
                passes.append(fetched)
    print(f"  CPU over these passes: {meter.split.describe(sum(p.pages for p in passes))}")
    return min(passes, key=lambda fetched: fetched.seconds)


def peer(work: Workload) -> ingest_dlt.Loaded:
    """Baseline (b): the best dlt run over a few extract worker counts."""
    runs = []
    for workers in DLT_WORKERS:
        loaded = ingest_dlt.load(work, workers)
        print(
            f"  dlt rest_api -> parquet, {workers:2d} workers: {loaded.seconds:6.2f} s "
            f"(extract {loaded.extract_seconds:.2f}, normalize {loaded.normalize_seconds:.2f}, "
            f"load {loaded.load_seconds:.2f}), {loaded.rows:,} rows in {loaded.files} file(s), "
            f"{loaded.rows_per_second:9,.0f} rows/s"
        )
        runs.append(loaded)
    return min(runs, key=lambda loaded: loaded.seconds)


def append_run(spark: SparkSession, work: Workload, warm: Workload, table: str) -> Timed:
    """The workload appended to a table a warm-up run created (the example's sink, appending):
    the median of RUNS runs."""
    run(spark, polygon_plan(warm, table, append=True), warm, "bench-append-warm-up")
    plan = polygon_plan(work, table, append=True)
    runs = []
    for number in range(1, RUNS + 1):
        timed = run(spark, plan, work, f"bench-append-{number}")
        if timed.result.rows_written != timed.result.rows_read:
            raise RuntimeError(
                f"the append wrote {timed.result.rows_written} of {timed.result.rows_read} rows"
            )
        runs.append(timed)
    return sorted(runs, key=lambda each: each.seconds)[len(runs) // 2]


def main() -> int:
    began = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared)")
    sim: RunningSim = start_process(SimConfig(port=0, control=True, log_level="warning"))
    try:
        os.environ["POLYGON_API_KEY"] = sim.key
        listed = reference_tickers(sim.base_url, sim.key, TICKERS + WARM_UP_TICKERS)
        work = Workload(sim.base_url, sim.key, listed[:TICKERS], START, END)
        warm = Workload(sim.base_url, sim.key, listed[TICKERS:], START, END)
        print(
            f"workload: {TICKERS:,} tickers x {START}..{END} (one page each) from the local "
            f"Polygon server at {sim.base_url} (its own process, {sim.config.universe_size:,} "
            "tickers listed)"
        )

        started = time.perf_counter()
        spark = spark_session(Settings().data_plane_config())
        slots = task_slots(spark.sparkContext.master or "", spark.sparkContext.defaultParallelism)
        in_flight = slots * CONCURRENT_REQUESTS
        print(f"Spark session built in {time.perf_counter() - started:.1f} s: {slots} task slots")

        print(f"\nbaseline (a), the source's limit (job's in-flight total: {in_flight})")
        source = source_limit(work, sorted({8, in_flight, in_flight * 2}))
        print("\nbaseline (b), dlt's REST API source into Parquet files")
        dlt_best = peer(work)
        return measure_job(spark, sim, work, warm, source, dlt_best, began)
    finally:
        sim.stop()
        stop_session()


def measure_job(
    spark: SparkSession,
    sim: RunningSim,
    work: Workload,
    warm: Workload,
    source: ingest_httpx.Fetched,
    dlt_best: ingest_dlt.Loaded,
    began: float,
) -> int:
    """The job's figures against both baselines, then the warm start; prints the verdicts."""
    space = namespace()
    print(f"\ningest job into headwater.{space} (merge on ticker, bar_date)")
    try:
        runs = []
        for number in range(1, RUNS + 1):
            table = f"{space}.stock_daily_bars_{number}"
            plan = polygon_plan(work, table, concurrent_requests=CONCURRENT_REQUESTS)
            warm_plan = polygon_plan(warm, table, concurrent_requests=CONCURRENT_REQUESTS)
            warm_up = run(spark, warm_plan, warm, f"bench-warm-up-{number}")
            print(
                f"  warm-up {number} (excluded): {warm_up.result.rows_written:,} rows of "
                f"{WARM_UP_TICKERS} other tickers in {warm_up.seconds:.2f} s (creates the table)"
            )
            with CpuMeter() as meter:
                timed = run(spark, plan, work, f"bench-run-{number}")
            result = timed.result
            if result.rows_written != source.rows:
                raise RuntimeError(
                    f"the job wrote {result.rows_written} rows, the source has {source.rows}"
                )
            print(
                f"  run {number}: {result.rows_written:,} rows in {timed.seconds:.2f} s = "
                f"{timed.rows_per_second:,.0f} rows/s (fetch + map {timed.fetch_seconds:.2f} s, "
                f"transform + checks + MERGE {timed.commit_seconds:.2f} s; "
                f"{result.stats.requests:,} requests, {result.stats.retries} retries)"
            )
            print(f"    CPU: {meter.split.describe(result.stats.pages)}")
            runs.append(timed)
        timed = sorted(runs, key=lambda each: each.seconds)[len(runs) // 2]
        result = timed.result
        print(f"  median run: {timed.seconds:.2f} s")
        rerun = run(spark, plan, work, "bench-rerun")
        print(
            f"  re-run of the same window (every row matched and updated, none added): "
            f"{rerun.seconds:.2f} s = {rerun.rows_per_second:,.0f} rows/s"
        )

        appended = append_run(spark, work, warm, f"{space}.stock_daily_bars_append")
        print(
            f"  the same rows appended instead of merged (no de-duplication, no join), median "
            f"of {RUNS}: "
            f"{appended.seconds:.2f} s = {appended.rows_per_second:,.0f} rows/s "
            f"(fetch + map {appended.fetch_seconds:.2f} s, checks + append "
            f"{appended.commit_seconds:.2f} s)"
        )

        started = warm_start(spark, sim, work, table, WARM_START_RUNS)
        print(
            f"  warm start, median of {started.runs} small runs (4 tickers, one month): first "
            f"request {started.first_request * 1000:.0f} ms after the call (the driver's sample "
            f"of the first page), first executor request {started.first_executor_request * 1000:.0f}"
            f" ms; whole run {started.total:.2f} s"
        )
    finally:
        drop(spark, space)

    share = timed.rows_per_second / source.rows_per_second
    ratio = timed.rows_per_second / dlt_best.rows_per_second
    print("\nsummary (rows/s; each baseline measured above, in this run)")
    print(f"  ingest job, end to end:        {timed.rows_per_second:9,.0f}")
    print(
        f"  (a) plain httpx loop (best):   {source.rows_per_second:9,.0f}  "
        f"({source.concurrency} in flight)  job/(a) = {share:.0%} "
        f"(target >= {TARGET_SHARE_OF_SOURCE:.0%}): {verdict(share >= TARGET_SHARE_OF_SOURCE)}"
    )
    print(
        f"  (b) dlt rest_api -> parquet:   {dlt_best.rows_per_second:9,.0f}  "
        f"({dlt_best.workers} workers)   job/(b) = {ratio:.2f}x "
        f"(target >= {TARGET_RATIO_TO_DLT}x): {verdict(ratio >= TARGET_RATIO_TO_DLT)}"
    )
    print(
        f"  warm start to first executor request: {started.first_executor_request:.2f} s "
        f"(target <= {TARGET_WARM_START_S:g} s): "
        f"{verdict(started.first_executor_request <= TARGET_WARM_START_S)}"
    )
    print(
        f"  appending instead of merging:  {appended.rows_per_second:9,.0f}  "
        f"job/(a) = {appended.rows_per_second / source.rows_per_second:.0%}"
    )
    print(
        f"  fetch + map alone: {result.rows_written / timed.fetch_seconds:,.0f} rows/s "
        f"= {result.rows_written / timed.fetch_seconds / source.rows_per_second:.0%} of (a)"
    )
    print(
        f"\nload average after: {os.getloadavg()[0]:.2f}; "
        f"benchmark took {time.perf_counter() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
