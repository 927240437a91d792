"""Benchmark: the runs listing at 10,000 and 1,000,000 runs, and live-event latency.

Run with `make bench-api`. Seeds (once, then reuses) 1,000 providers with 10k and with 1M runs
and measures `runs(first: 50, filter: {statuses: [FAILED]})` with each run's provider name:
the server time per page in process (schema.execute), the raw SQL of the same page, and
requests/s with p50/p99 over HTTP against a real `headwater api`; then the commit-to-subscriber
latency of 1,000 websocket subscribers on one server. Every figure is printed with its baseline
from the same run and the ratio. Targets: server time <= 4 ms per page; p99 at 1M <= 1.5x p99 at
10k; subscriber latency p50 <= 10 ms, p99 <= 100 ms.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import api_live
import api_seed
import api_server
import asyncpg
from tortoise import Tortoise

from api import db
from api.auth import authenticate, create_key
from api.broker import Broker
from api.config import ApiConfig
from api.models import ApiKey, Scope
from api.queries.runs import RunFilter, page_query
from api.schema import build_schema
from api.schema.context import Context
from api.specworkers import SpecWorkers
from uis_compiler.compilers.options import CompileOptions

QUERY = """
query FailedRuns {
  runs(first: 50, filter: {statuses: [FAILED]}) {
    edges { cursor node { id status trigger createdAt finishedAt durationMs errorClass providerName } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SIZES = {"10k": 10_000, "1M": 1_000_000}
WARMUP = 100
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1000"))
HTTP_CONCURRENCY = 8
#: HTTP load alternates between the two servers in slices, so drifting background load on a
#: shared machine falls on both sizes alike instead of on whichever ran second.
HTTP_SLICES = 4
HTTP_SLICE_SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "4"))
TARGET_SERVER_MS = 4.0
TARGET_P99_RATIO = 1.5
TARGET_LIVE_P50_MS = 10.0
TARGET_LIVE_P99_MS = 100.0


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p99_ms: float


def percentile(samples: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timing(samples: list[float]) -> Timing:
    return Timing(statistics.median(samples), percentile(samples, 0.99))


async def timed(work: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    """Milliseconds of each of ``rounds`` calls of ``work``, after a warm-up."""
    for _ in range(WARMUP):
        await work()
    gc.collect()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bench_key(url: str) -> str:
    """A fresh read key in the benchmark database (an analyst's key: no tenant bound)."""
    await Tortoise.init(config=db.tortoise_config(url, pool_size=4), _enable_global_fallback=True)
    try:
        await ApiKey.filter(created_by="bench").delete()
        return (await create_key("bench", [Scope.READ], tenant_id=None, created_by="bench")).token
    finally:
        await Tortoise.close_connections()


def failed_page() -> tuple[str, list[Any]]:
    """The SQL the listing runs for QUERY's page (50 rows and one to tell if more follow)."""
    return page_query(RunFilter(statuses=("FAILED",)), "CREATED_AT", "DESC", 50, None)


async def plan(url: str) -> str:
    """The page query's plan at this size, in one line: the index it reads and its cost."""
    query, args = failed_page()
    conn = await asyncpg.connect(url)
    try:
        lines = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)]
    finally:
        await conn.close()
    scans = [line.strip().removeprefix("->  ").split("  (")[0] for line in lines if "Scan" in line]
    timing = [line.strip() for line in lines if line.startswith("Execution Time")]
    buffers = next((line.strip() for line in lines if "Buffers" in line), "")
    return f"{'; '.join(scans)}; {buffers}; {timing[0] if timing else ''}"


async def in_process(url: str, token: str, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds per page: (through schema.execute, raw SQL of its page query)."""
    await Tortoise.init(config=db.tortoise_config(url, pool_size=4), _enable_global_fallback=True)
    try:
        principal = await authenticate(token)
        assert principal is not None
        config = ApiConfig(database_url=url)
        schema = build_schema(config)
        broker = Broker(url)
        options = CompileOptions()
        workers = SpecWorkers(1)  # never started: the query validates no spec

        async def execute() -> None:
            # A new context per request, as the server makes one: its loaders start empty.
            context = Context(
                config=config,
                broker=broker,
                compile_options=options,
                spec_workers=workers,
                request_id="bench",
                principal=principal,
            )
            result = await schema.execute(QUERY, context_value=context)
            assert result.errors is None, result.errors
            assert result.data is not None and len(result.data["runs"]["edges"]) == 50

        server = await timed(execute, rounds)
    finally:
        await Tortoise.close_connections()
    query, args = failed_page()
    conn = await asyncpg.connect(url)
    try:

        async def fetch() -> None:
            assert len(await conn.fetch(query, *args)) == 51

        raw = await timed(fetch, rounds)
    finally:
        await conn.close()
    return server, raw


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


async def main() -> int:
    started = time.perf_counter()
    print(
        f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared: figures are noisier above 1)"
    )
    databases = {}
    for label, runs in SIZES.items():
        database = await api_seed.ensure(f"headwater_bench_{label.lower()}", runs)
        how = f"seeded in {database.seeded_in:.1f} s" if database.seeded_in else "reused (cached)"
        print(f"database {database.name}: {runs:,} runs, {api_seed.PROVIDERS:,} providers, {how}")
        databases[label] = database
    tokens = {label: await bench_key(d.url) for label, d in databases.items()}

    print(f"\nin process: median / p99 of {ROUNDS} pages after {WARMUP} warm-up, per size")
    server_ms: dict[str, list[float]] = {label: [] for label in databases}
    raw_ms: dict[str, list[float]] = {label: [] for label in databases}
    # Two halves in opposite orders, so neither size always runs on a colder or busier machine.
    for order in (list(databases), list(reversed(databases))):
        for label in order:
            server, raw = await in_process(databases[label].url, tokens[label], ROUNDS // 2)
            server_ms[label] += server
            raw_ms[label] += raw
    timings = {label: timing(samples) for label, samples in server_ms.items()}
    for label, server in timings.items():
        raw = timing(raw_ms[label])
        print(
            f"  server time {label:>3}: {server.median_ms:6.3f} ms (p99 {server.p99_ms:6.3f}) "
            f"| raw SQL {raw.median_ms:6.3f} ms (p99 {raw.p99_ms:6.3f}) "
            f"| ratio {server.median_ms / raw.median_ms:5.1f}x"
        )
    for label, database in databases.items():
        print(f"  plan {label:>3}: {await plan(database.url)}")
    big, small = timings["1M"], timings["10k"]
    print(
        f"  server time 1M/10k: {big.median_ms / small.median_ms:.2f}x; "
        f"target <= {TARGET_SERVER_MS:g} ms per page at 1M: "
        f"{verdict(big.median_ms <= TARGET_SERVER_MS)}"
    )

    servers = {label: api_server.start(d.url) for label, d in databases.items()}
    try:
        body: dict[str, Any] = {"query": QUERY}
        print(
            f"\nover HTTP: {HTTP_CONCURRENCY} concurrent clients, {HTTP_SLICES} alternating "
            f"slices of {HTTP_SLICE_SECONDS:g} s per size"
        )
        loads = {label: api_server.Load() for label in servers}
        for label, server in servers.items():
            await api_server.drive(server, tokens[label], body, 1.0, HTTP_CONCURRENCY)
        for _ in range(HTTP_SLICES):
            for label, server in servers.items():
                loads[label].add(
                    await api_server.drive(
                        server, tokens[label], body, HTTP_SLICE_SECONDS, HTTP_CONCURRENCY
                    )
                )
        for label, load in loads.items():
            print(
                f"  {label:>3}: {load.rps:7.1f} requests/s, p50 "
                f"{statistics.median(load.samples) * 1000:6.2f} ms, p99 "
                f"{percentile(load.samples, 0.99) * 1000:6.2f} ms ({len(load.samples)} requests)"
            )
        p99_big = percentile(loads["1M"].samples, 0.99)
        p99_small = percentile(loads["10k"].samples, 0.99)
        ratio = p99_big / p99_small
        print(
            f"  p99 1M/10k: {ratio:.2f} (baseline: p99 at 10k); target <= {TARGET_P99_RATIO:g}: "
            f"{verdict(ratio <= TARGET_P99_RATIO)}; "
            f"rps 1M/10k: {loads['1M'].rps / loads['10k'].rps:.2f}"
        )
        servers.pop("10k").stop()

        print("\nsubscriber latency: 1,000 websocket subscribers on one server (the 1M database)")
        live = await api_live.measure(servers["1M"], databases["1M"].url, tokens["1M"])
        p50 = statistics.median(live.from_at) * 1000
        p99 = percentile(live.from_at, 0.99) * 1000
        print(
            f"  deliveries: {live.received:,} of {live.expected:,} ({live.runs} runs x "
            f"{live.subscribers // live.runs} subscribers, {live.events} events at {live.rate:g}/s)"
        )
        print(
            f"  commit -> subscriber (from the event's `at`): p50 {p50:6.2f} ms, p99 {p99:6.2f} ms"
        )
        print(
            f"  commit -> subscriber (from the writer's commit): "
            f"p50 {statistics.median(live.from_commit) * 1000:6.2f} ms, "
            f"p99 {percentile(live.from_commit, 0.99) * 1000:6.2f} ms"
        )
        print(
            f"  target p50 <= {TARGET_LIVE_P50_MS:g} ms: {verdict(p50 <= TARGET_LIVE_P50_MS)}; "
            f"p99 <= {TARGET_LIVE_P99_MS:g} ms: {verdict(p99 <= TARGET_LIVE_P99_MS)}"
        )
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"\nload average after: {os.getloadavg()[0]:.2f}; took {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
