"""Benchmark: what the control plane costs, beside the data-plane job alone, in the same run.

Run with `make bench-runs` (it starts PostgreSQL and fetches the Spark jars first). A real
`headwater api` and `headwater worker` (in process, 2 slots, its session warm) on a fresh
database, the ledger API of the tests as the source (one small page per run, merged into
Iceberg):

1. trigger → RUNNING: from the `triggerRun` call to RUNNING arriving on a runsFeed
   subscription, one run at a time (median, p95). Target: median <= 250 ms.
2. runs/minute of 100 small runs triggered at once, through the platform (2 slots), beside the
   same 100 runs by calling `run_plan` in a loop in this process. Target: overhead <= 10%.
3. 100,000 log lines of one run through the worker's EventLog: lines/s stored (a burst),
   beside a plain COPY of the same rows; and commit → subscriber (p50, p99) of a runEvents
   subscriber while lines come at a steady rate.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import api_server
import asyncpg
import runs_direct
import runs_events
from api_client import ROOT, Api
from control_setup import ledger_spec, start_worker
from runs_platform import many_runs, provider_of, summary, trigger_to_running

from api import db
from api.auth import create_key
from api.models import Scope
from standins.ledger import Ledger, serve_in_thread

LATENCY_RUNS = int(os.environ.get("BENCH_LATENCY_RUNS", "30"))
RUNS = int(os.environ.get("BENCH_RUNS", "100"))
LINES = int(os.environ.get("BENCH_LINES", "100000"))
#: Lines/s of the paced runs: a chatty job's, then a flood's (100,000 lines in 10 s).
PACED = ((1_000.0, 20_000), (10_000.0, LINES))
DATABASE = "headwater_bench_runs"
TARGET_RUNNING_MS = 250.0
TARGET_OVERHEAD = 0.10


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


async def fresh_database() -> str:
    port = os.environ.get("HEADWATER_PG_PORT", "54329")
    admin = await asyncpg.connect(f"postgres://headwater@127.0.0.1:{port}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    url = f"postgres://headwater@127.0.0.1:{port}/{DATABASE}"
    await db.upgrade(url)
    return url


async def admin_key(url: str) -> str:
    await db.connect(url, pool_size=2)
    try:
        return (await create_key("bench", [Scope.ADMIN], tenant_id=None, created_by="bench")).token
    finally:
        await db.disconnect()


def spec(base_url: str, namespace: str) -> str:
    # One day, one page of 25: as small as a real run gets. One provider per namespace.
    return ledger_spec(
        base_url, namespace, name=namespace, **{"lookback_days: 2": "lookback_days: 0"}
    )


async def platform(url: str, api: Api, key: str, base_url: str) -> tuple[list[float], float]:
    latency_provider = await provider_of(api, key, spec(base_url, f"bench_latency_{os.getpid()}"))
    # The first runs warm the worker (its JIT, the table's creation) and are not counted.
    await trigger_to_running(api, key, latency_provider, 3)
    latencies = await trigger_to_running(api, key, latency_provider, LATENCY_RUNS)
    many = await provider_of(api, key, spec(base_url, f"bench_many_{os.getpid()}"))
    await many_runs(api, key, many, 2)
    seconds = await many_runs(api, key, many, RUNS)
    return latencies, seconds


def main() -> int:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared)")
    url = asyncio.run(fresh_database())
    key = asyncio.run(admin_key(url))
    server = api_server.start(url)
    lineage = Path(ROOT / "var" / "bench-lineage")
    with serve_in_thread(Ledger()) as ledger:
        worker = start_worker(
            url,
            "bench-worker",
            LEDGER_API_KEY=ledger.key,
            HEADWATER_WORKER_SLOTS="2",
            HEADWATER_LINEAGE_DIR=str(lineage),
        )
        try:
            latencies, platform_seconds = asyncio.run(
                platform(url, server.api, key, ledger.base_url)
            )
        finally:
            worker.stop()
        os.environ["LEDGER_API_KEY"] = ledger.key
        os.environ["HEADWATER_LINEAGE_DIR"] = str(lineage)
        direct_seconds = runs_direct.loop(
            spec(ledger.base_url, f"bench_direct_{os.getpid()}"), RUNS, warm_up=5
        )
    burst = asyncio.run(
        runs_events.burst(server.api, key, url, spec("http://127.0.0.1:9", "bench_events"), LINES)
    )
    delays = {
        rate: asyncio.run(
            runs_events.paced(
                server.api, key, url, spec("http://127.0.0.1:9", f"bench_paced_{int(rate)}"),
                lines, rate,
            )
        )
        for rate, lines in PACED
    }  # fmt: skip
    server.stop()

    running = summary(latencies)
    platform_rate = RUNS / platform_seconds * 60
    direct_rate = RUNS / direct_seconds * 60
    overhead = 1 - platform_rate / direct_rate
    print(f"\n1. trigger -> RUNNING, warm session, {LATENCY_RUNS} runs one at a time")
    print(f"   median {running['median'] * 1000:.0f} ms, p95 {running['p95'] * 1000:.0f} ms "
          f"(target median <= {TARGET_RUNNING_MS:.0f} ms: "
          f"{verdict(running['median'] * 1000 <= TARGET_RUNNING_MS)})")  # fmt: skip
    print(f"\n2. {RUNS} small runs (one page, merged into Iceberg)")
    print(f"   through the platform, 2 worker slots: {platform_rate:6.1f} runs/min "
          f"({platform_seconds:.1f} s)")  # fmt: skip
    print(f"   run_plan called in a loop:            {direct_rate:6.1f} runs/min "
          f"({direct_seconds:.1f} s)")  # fmt: skip
    print(f"   platform / loop: {platform_rate / direct_rate:.2f}x, overhead {overhead:+.1%} "
          f"(target <= {TARGET_OVERHEAD:.0%}: {verdict(overhead <= TARGET_OVERHEAD)})")  # fmt: skip
    print(f"\n3. {LINES:,} log lines of one run, in one burst")
    print(f"   stored by the EventLog:                 {burst.event_log:10,.0f} lines/s")
    print(
        f"   one COPY into run_events (the baseline): {burst.copy_into_run_events:10,.0f} "
        f"lines/s (EventLog / COPY: {burst.event_log / burst.copy_into_run_events:.2f})"
    )
    print(
        f"   one COPY into a bare table like it:      {burst.copy_into_bare_table:10,.0f} "
        "lines/s (no trigger, no foreign key)"
    )
    for (rate, lines), found in zip(PACED, delays.values(), strict=True):
        ordered = sorted(found)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
        print(f"   commit -> subscriber, {lines:,} lines at {rate:,.0f} lines/s: "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; finished at {time.strftime('%X')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
