"""Benchmark: the runs page for 8 normal clients, alone and while a read key abuses the API.

Run with `make bench-abuse`. One real `headwater api` with its default limits, on the seeded
10k-runs database (tests/bench/api_seed.py; the newest runs get 200 log lines each here). Eight
normal clients, each with its own read key, load the runs page back to back; the quiet and the
abused phases alternate in slices so drifting background load falls on both alike. In the
abused phases four more clients share one read key and send the most expensive requests the
limits allow, in turn: a nested runs/events query sized to just under the cost limit, thirty
aliased validateSpec calls carrying the request's whole spec budget, and the dashboard with a
counted, filtered runs listing. They honour 429's Retry-After, as the limits ask.

Figures: the normal clients' p50/p99 in each phase and the ratio (target: abused p99 <= 2x the
quiet p99), normal requests refused (target: none), what the abusers got done and refused, and
the API process's peak memory in each phase (target: bounded, within 100 MiB of quiet).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import api_seed
import api_server
import asyncpg
import httpx
import psutil
from graphql import OperationDefinitionNode, parse
from tortoise import Tortoise

from api import db
from api.auth import create_key
from api.config import ApiConfig
from api.models import ApiKey, Scope
from api.schema import build_schema
from api.schema.cost import Estimator

ROOT = Path(__file__).resolve().parents[2]
RUNS_PAGE = """
query RunsPage {
  runs(first: 50) {
    edges { cursor node { id status trigger createdAt startedAt finishedAt durationMs
      metrics { rowsWritten } errorClass providerName } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NORMAL_CLIENTS = 8
ABUSERS = 4
SLICES = 4
SLICE_SECONDS = float(os.environ.get("BENCH_ABUSE_SLICE_SECONDS", "12"))
#: The newest runs get this many log lines each, so the nested query reads real rows.
EVENT_RUNS = 200
EVENTS_PER_RUN = 200
TARGET_P99_RATIO = 2.0
TARGET_MEMORY_MIB = 100
POLYGON = (ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml").read_text()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _cost(query: str, config: ApiConfig, variables: dict[str, object] | None = None) -> int:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    schema = build_schema(config)._schema
    return Estimator(schema, {}, variables or {}, config).cost(operation)


def spec_cost(request: tuple[str, dict[str, object]], config: ApiConfig) -> int:
    document = parse(request[0])
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    estimator = Estimator(build_schema(config)._schema, {}, request[1], config)
    return estimator.cost(operation) + estimator.spec_cost


def nested_query(config: ApiConfig) -> str:
    """Runs with their events, the page sizes raised until the next step would pass the limit."""

    def text(runs: int, events: int) -> str:
        return (
            f"query Nested {{ runs(first: {runs}) {{ edges {{ node {{ id status providerName "
            f"events(first: {events}) {{ lastSeq hasMore events {{ seq kind level message }} }} "
            f"}} }} }} }}"
        )

    # Page sizes are clamped at max_page_size: past it a larger `first` costs no more.
    runs, events = 1, config.max_page_size
    while (
        runs < config.max_page_size
        and _cost(text(runs + 1, events), config) <= config.max_query_cost
    ):
        runs += 1
    while events > 1 and _cost(text(runs, events), config) > config.max_query_cost:
        events -= 1
    return text(runs, events)


def validate_query(config: ApiConfig) -> tuple[str, dict[str, object]]:
    """Thirty aliased validateSpec calls sharing one spec text, as large as the budget allows."""
    query = (
        "query Validate($t: String!) { "
        + " ".join(f"v{i}: validateSpec(text: $t) {{ valid }}" for i in range(config.max_aliases))
        + " }"
    )
    spec = POLYGON + "notes:\n"
    line = "  - a line of padding that makes the spec as large as the budget allows\n"
    while len((spec + line).encode()) * config.max_aliases <= config.max_spec_bytes:
        spec += line
    return query, {"t": spec}


DASHBOARD = """
query Dashboard {
  dashboard(days: 90) { successRate days { day byStatus { status count } rowsWritten }
    failingProviders { failures lastFailureAt provider { name } } }
  runs(first: 200, filter: {statuses: [FAILED, CANCELED]}, sort: {field: DURATION}) {
    totalCount totalCountExact edges { node { id durationMs errorClass providerName } }
  }
}
"""


@dataclass
class Tally:
    normal: list[float] = field(default_factory=list)
    refused: int = 0
    abusive_done: int = 0
    abusive_refused: int = 0
    memory_mib: float = 0.0


async def seed_events(url: str) -> int:
    """Log lines on the newest runs (once): what the nested abusive query reads."""
    conn = await asyncpg.connect(url)
    try:
        newest = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT $1", EVENT_RUNS
            )
        ]
        have = await conn.fetchval("SELECT count(*) FROM run_events WHERE run_id = ANY($1)", newest)
        if have < EVENT_RUNS * EVENTS_PER_RUN:
            await conn.execute(
                "INSERT INTO run_events (run_id, seq, kind, level, message) "
                "SELECT r, NULL, 'LOG', 'INFO', 'fetched page ' || n || ' of the endpoint' "
                "FROM unnest($1::bigint[]) r, generate_series(1, $2) n",
                newest,
                EVENTS_PER_RUN,
            )
        return int(
            await conn.fetchval("SELECT count(*) FROM run_events WHERE run_id = ANY($1)", newest)
        )
    finally:
        await conn.close()


async def keys(url: str) -> tuple[list[str], str]:
    await Tortoise.init(config=db.tortoise_config(url, pool_size=4), _enable_global_fallback=True)
    try:
        await ApiKey.filter(created_by="bench-abuse").delete()

        async def key(name: str) -> str:
            made = await create_key(name, [Scope.READ], tenant_id=None, created_by="bench-abuse")
            return made.token

        return [await key(f"normal-{i}") for i in range(NORMAL_CLIENTS)], await key("abuser")
    finally:
        await Tortoise.close_connections()


async def normal_client(http: httpx.AsyncClient, token: str, end: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < end:
        sent = time.perf_counter()
        response = await http.post("/graphql", json={"query": RUNS_PAGE}, headers=headers)
        took = time.perf_counter() - sent
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            tally.refused += 1
            if tally.refused == 1:
                print(
                    f"  a normal request was refused: {response.status_code} {response.text[:300]}"
                )
            continue
        assert len(body["data"]["runs"]["edges"]) == 50
        tally.normal.append(took)


async def abuser(
    http: httpx.AsyncClient,
    token: str,
    end: float,
    tally: Tally,
    requests: list[tuple[str, dict[str, object]]],
    offset: int,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    turn = offset
    while time.perf_counter() < end:
        query, variables = requests[turn % len(requests)]
        turn += 1
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        if response.status_code == 429:
            tally.abusive_refused += 1
            wait = float(response.headers.get("retry-after", "1"))
            await asyncio.sleep(min(wait, max(0.0, end - time.perf_counter())))
            continue
        body = response.json()
        if "errors" in body:
            raise RuntimeError(f"an abusive request failed otherwise: {response.text[:400]}")
        tally.abusive_done += 1


async def memory_watch(pid: int, end: float, tally: Tally) -> None:
    process = psutil.Process(pid)
    children = process.children(recursive=True)
    while time.perf_counter() < end:
        rss = process.memory_info().rss + sum(
            c.memory_info().rss for c in children if c.is_running()
        )
        tally.memory_mib = max(tally.memory_mib, rss / 2**20)
        await asyncio.sleep(0.25)


async def phase(
    base_url: str,
    pid: int,
    normal: list[str],
    abusive: str | None,
    requests: list[tuple[str, dict[str, object]]],
    tally: Tally,
) -> None:
    limits = httpx.Limits(max_connections=NORMAL_CLIENTS + ABUSERS)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        end = time.perf_counter() + SLICE_SECONDS
        work = [normal_client(http, token, end, tally) for token in normal]
        if abusive is not None:
            work += [abuser(http, abusive, end, tally, requests, i) for i in range(ABUSERS)]
        await asyncio.gather(memory_watch(pid, end, tally), *work)


def summary(label: str, tally: Tally) -> tuple[float, float]:
    ms = [s * 1000 for s in tally.normal] or [float("nan")]
    p50, p99 = statistics.median(ms), percentile(ms, 0.99)
    print(
        f"  {label:<6} normal: {len(ms):6,} pages, p50 {p50:6.1f} ms, p99 {p99:6.1f} ms, "
        f"refused {tally.refused} | abusive: {tally.abusive_done} served, "
        f"{tally.abusive_refused} x 429 | API peak memory {tally.memory_mib:6.1f} MiB"
    )
    return p50, p99


async def main() -> int:
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared)")
    database = await api_seed.ensure("headwater_bench_10k", 10_000)
    print(
        f"database {database.name}: {database.runs:,} runs, {await seed_events(database.url):,} log lines on the newest"
    )
    normal, abusive = await keys(database.url)
    config = ApiConfig(database_url=database.url)
    nested = nested_query(config)
    validate = validate_query(config)
    requests: list[tuple[str, dict[str, object]]] = [(nested, {}), validate, (DASHBOARD, {})]
    print(
        f"abusive requests: nested (cost {_cost(nested, config):,} of {config.max_query_cost:,}), "
        f"validateSpec x {config.max_aliases} ({len(str(validate[1]['t'])):,} bytes each, "
        f"{spec_cost(validate, config):,} from the budget), dashboard + counted listing (cost "
        f"{_cost(DASHBOARD, config):,}); budget {config.rate_limit_per_minute:,} fields/min per key"
    )
    server = api_server.start(database.url)
    quiet, abused = Tally(), Tally()
    try:
        base = server.api.base_url
        # Warm-up: the pool of spec workers, the caches, the connections.
        await phase(base, server.process.pid, normal, None, requests, Tally())
        for turn in range(SLICES):
            order = [(quiet, None), (abused, abusive)]
            for tally, key in order if turn % 2 == 0 else reversed(order):
                await phase(base, server.process.pid, normal, key, requests, tally)
    finally:
        server.stop()
    print(
        f"\nruns page over HTTP, {NORMAL_CLIENTS} normal clients, {SLICES} slices of {SLICE_SECONDS:.0f} s per phase"
    )
    _, quiet_p99 = summary("quiet", quiet)
    _, abused_p99 = summary("abused", abused)
    ratio = abused_p99 / quiet_p99
    memory = abused.memory_mib - quiet.memory_mib
    met_p99 = ratio <= TARGET_P99_RATIO
    met_refused = abused.refused == 0 and quiet.refused == 0
    met_memory = memory <= TARGET_MEMORY_MIB
    print(
        f"\np99 abused / quiet: {ratio:.2f}x (target <= {TARGET_P99_RATIO}x): {'met' if met_p99 else 'MISSED'}"
    )
    print(
        f"normal requests refused: {quiet.refused + abused.refused} (target 0): {'met' if met_refused else 'MISSED'}"
    )
    print(
        f"API memory under abuse: {memory:+.1f} MiB against quiet (target <= {TARGET_MEMORY_MIB}): {'met' if met_memory else 'MISSED'}"
    )
    print(
        f"abusive requests served {abused.abusive_done}, refused with 429 {abused.abusive_refused}"
    )
    return 0 if met_p99 and met_refused and met_memory else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
