"""Benchmark databases: created, migrated and seeded once, then reused while their seed matches.

A database is reused when its marker row names the same seed version (this module's recipe and
the project's migrations) and the runs table holds the seeded number of runs, so a second
`make bench-api` starts measuring at once.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from api import db

ROOT = Path(__file__).resolve().parents[2]
PG_PORT = int(os.environ.get("HEADWATER_PG_PORT", "54329"))
PROVIDERS = 1000
#: Bump when the recipe below changes; the migrations' text is part of the version too.
RECIPE = "4"
#: Runs the latency benchmark creates (and removes) carry this tenant, so they never count.
LIVE_TENANT = "bench-live"

PROVIDERS_SQL = """
INSERT INTO providers (tenant_id, name, display_name, owner, status, engine, schedule_cron,
                       schedule_timezone, created_at, updated_at)
SELECT CASE i % 4 WHEN 0 THEN 'acme' WHEN 1 THEN 'globex' ELSE 'default' END,
       'provider_' || lpad(i::text, 4, '0'), 'Provider ' || i, 'team-' || (i % 20), 'ACTIVE',
       'spark', '0 * * * *', 'UTC', now() - interval '400 days', now()
FROM generate_series(1, $1) i;
INSERT INTO spec_versions (provider_id, number, spec_text, spec_parsed, engine, author, message,
                           created_at)
SELECT id, 1, 'version: 1', '{}', 'spark', 'bench', 'seeded', created_at FROM providers;
UPDATE providers p SET current_version_id = v.id FROM spec_versions v WHERE v.provider_id = p.id;
"""

# Runs are spread evenly over the last year in id order (as a real table fills), on providers
# with a skew (a few busy ones, a long tail), ~10% FAILED and ~4% CANCELED; runs that would
# still be waiting or running now are QUEUED or RUNNING, so only the newest are active.
RUNS_SQL = """
INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, parameters,
                  window_start, window_end, logical_date, created_at, started_at, finished_at,
                  duration_ms, rows_read, rows_written, bytes_read, pages, requests, retries,
                  error_class, error_message, snapshot_id, event_seq)
SELECT p.tenant_id, p.id, p.current_version_id, s.status, s.trigger,
       CASE s.trigger WHEN 'RETRY' THEN 2 ELSE 1 END,
       '{"symbols": "AAPL,MSFT"}'::jsonb,
       s.created::date - 1, s.created::date, s.created::date, s.created,
       CASE WHEN s.status <> 'QUEUED' THEN s.created + s.wait END,
       CASE WHEN s.status IN ('SUCCEEDED', 'FAILED', 'CANCELED')
            THEN s.created + s.wait + s.took END,
       CASE WHEN s.status IN ('SUCCEEDED', 'FAILED', 'CANCELED')
            THEN (extract(epoch FROM s.took) * 1000)::bigint END,
       s.rows_read, s.rows_read, s.rows_read * 180, s.rows_read / 500 + 1, s.rows_read / 500 + 1,
       (s.r2 * 3)::int,
       CASE s.status WHEN 'FAILED' THEN 'HttpStatusError' END,
       CASE s.status WHEN 'FAILED'
            THEN 'GET /v2/aggs/ticker/AAPL/range/1/day answered 503 after 5 attempts: '
                 || repeat('upstream unavailable; ', 8) END,
       CASE s.status WHEN 'SUCCEEDED' THEN s.g::bigint * 7919 END,
       4
FROM (
    SELECT g, pid, r2, created, wait, took, rows_read,
           CASE WHEN created + wait > now() THEN 'QUEUED'
                WHEN created + wait + took > now() THEN 'RUNNING'
                WHEN r < 0.10 THEN 'FAILED'
                WHEN r < 0.14 THEN 'CANCELED'
                ELSE 'SUCCEEDED' END AS status,
           CASE WHEN r2 < 0.70 THEN 'SCHEDULE' WHEN r2 < 0.90 THEN 'MANUAL'
                WHEN r2 < 0.98 THEN 'BACKFILL' ELSE 'RETRY' END AS trigger
    FROM (
        SELECT g,
               1 + floor(power(random(), 2) * $2)::int AS pid,
               random() AS r,
               random() AS r2,
               now() - interval '365 days' * (1 - g::float8 / $1) - random() * interval '5 s'
                   AS created,
               random() * interval '2 minutes' AS wait,
               power(random(), 2) * interval '1 hour' AS took,
               floor(random() * 1000000)::bigint AS rows_read
        FROM generate_series(1, $1) g
    ) raw
) s
JOIN providers p ON p.id = s.pid
ORDER BY s.g
"""


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    url: str
    runs: int
    #: Seconds spent seeding now (0 when the cached database was reused).
    seeded_in: float


def url_of(database: str) -> str:
    return f"postgres://headwater@127.0.0.1:{PG_PORT}/{database}"


def seed_version() -> str:
    """The recipe plus the migrations: either changing means the cached data is stale."""
    digest = hashlib.sha256(RECIPE.encode())
    for path in sorted((ROOT / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


async def _is_current(url: str, runs: int) -> bool:
    conn = await asyncpg.connect(url)
    try:
        has_marker = await conn.fetchval("SELECT to_regclass('bench_seed') IS NOT NULL")
        if not has_marker:
            return False
        marker = await conn.fetchrow("SELECT version, providers, runs FROM bench_seed")
        if marker is None or tuple(marker) != (seed_version(), PROVIDERS, runs):
            return False
        # Leftovers of an interrupted latency run do not make the data stale; anything else does.
        await conn.execute("DELETE FROM runs WHERE tenant_id = $1", LIVE_TENANT)
        counted = await conn.fetchval("SELECT count(*) FROM runs")
        providers = await conn.fetchval("SELECT count(*) FROM providers")
        return bool(counted == runs and providers == PROVIDERS)
    finally:
        await conn.close()


async def _seed(url: str, runs: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        # A seed is rebuilt, never repaired: losing it in a crash costs nothing.
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(PROVIDERS_SQL.replace("$1", str(PROVIDERS)))
        # The runs are written in their final states directly, with the state machine's triggers
        # off. With them on, each run would have to be inserted QUEUED and walked through
        # STARTING and RUNNING to its end: three updates of every row, each re-writing the row
        # and its 15 index entries and adding a status event and a NOTIFY — a seed of tens of
        # minutes that leaves a bloated table no longer like one filled over a year. USER
        # triggers only: the foreign-key checks stay on, so the rows are still consistent.
        await conn.execute("ALTER TABLE runs DISABLE TRIGGER USER")
        try:
            await conn.execute(RUNS_SQL, runs, PROVIDERS)
        finally:
            await conn.execute("ALTER TABLE runs ENABLE TRIGGER USER")
        # The seeded runs have no event rows; numbering must carry on after their event_seq.
        await conn.execute(
            "CREATE TABLE bench_seed (version text, providers int, runs bigint, at timestamptz)"
        )
        await conn.execute(
            "INSERT INTO bench_seed VALUES ($1, $2, $3, now())", seed_version(), PROVIDERS, runs
        )
    finally:
        await conn.close()
    # Outside a transaction (VACUUM cannot run in one): the visibility map and statistics a
    # long-lived table would have, so plans and index-only scans are the ones production sees.
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE) runs, providers, spec_versions")
    finally:
        await conn.close()


async def ensure(name: str, runs: int) -> BenchDatabase:
    """The benchmark database ``name`` with ``runs`` seeded runs, created when missing or stale."""
    url = url_of(name)
    admin = await asyncpg.connect(url_of("postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    if exists and await _is_current(url, runs):
        return BenchDatabase(name, url, runs, 0.0)
    started = time.perf_counter()
    admin = await asyncpg.connect(url_of("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await db.upgrade(url)
    await _seed(url, runs)
    return BenchDatabase(name, url, runs, time.perf_counter() - started)
