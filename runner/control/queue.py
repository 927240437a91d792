"""The run queue in PostgreSQL: claims, leases, the commit fence, endings and retries.

Every change of a run's status goes through the database's state machine (migrations/0002),
which also numbers and announces it. A claim takes queued runs with `FOR UPDATE SKIP LOCKED`,
so several workers never claim one run twice; a backfill's chunks are claimed under a lock on
their backfill row, oldest first, at most its `max_concurrency` at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from api.models.enums import RunStatus
from runner.control.errors import CLASSES
from runner.control.events import MAX_MESSAGE, clean_text
from runner.control.retry import Attempts, next_attempt

HELD = ("STARTING", "RUNNING", "CANCELING")
_CLAIMED_COLUMNS = (
    "r.id, r.tenant_id, r.provider_id, r.version_id, r.status, r.trigger, r.attempt, "
    "r.parameters, r.window_start, r.window_end, r.logical_date, r.backfill_id, r.parent_id"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A run this worker now holds (STARTING), with what executing it needs."""

    id: int
    tenant_id: str
    provider_id: int
    provider_name: str
    attempt: int
    parameters: dict[str, str]
    window_start: date | None
    window_end: date | None
    logical_date: date | None
    backfill_id: int | None
    compiled: dict[str, Any] | None
    #: The ids of the run's earlier attempts (its parent, the parent's parent, …), newest first.
    earlier_attempts: tuple[int, ...] = ()

    @classmethod
    def of(cls, row: asyncpg.Record, earlier: tuple[int, ...] = ()) -> Claimed:
        compiled = row["compiled_plan"]
        parameters = row["parameters"]
        return cls(
            id=int(row["id"]),
            tenant_id=row["tenant_id"],
            provider_id=int(row["provider_id"]),
            provider_name=row["provider_name"],
            attempt=int(row["attempt"]),
            parameters=json.loads(parameters) if isinstance(parameters, str) else parameters or {},
            window_start=row["window_start"],
            window_end=row["window_end"],
            logical_date=row["logical_date"],
            backfill_id=row["backfill_id"],
            compiled=json.loads(compiled) if isinstance(compiled, str) else compiled,
            earlier_attempts=earlier,
        )


async def claim(pool: asyncpg.Pool, owner: str, limit: int, lease_seconds: float) -> list[Claimed]:
    """Up to ``limit`` queued runs, oldest first, moved to STARTING under this worker's lease."""
    if limit <= 0:
        return []
    async with pool.acquire() as conn, conn.transaction():
        ids = await _plain_candidates(conn, limit)
        if len(ids) < limit:
            ids += await _backfill_candidates(conn, limit - len(ids))
        if not ids:
            return []
        rows = await conn.fetch(
            "UPDATE runs SET status = 'STARTING', lease_owner = $2, "
            "lease_expires_at = now() + make_interval(secs => $3), heartbeat_at = now() "
            "WHERE id = ANY($1::bigint[]) AND status = 'QUEUED' RETURNING id",
            ids,
            owner,
            lease_seconds,
        )
        moved = [int(row["id"]) for row in rows]
        details = await conn.fetch(
            f"SELECT {_CLAIMED_COLUMNS}, p.name AS provider_name, v.compiled_plan "
            "FROM runs r JOIN providers p ON p.id = r.provider_id "
            "JOIN spec_versions v ON v.id = r.version_id "
            "WHERE r.id = ANY($1::bigint[]) ORDER BY r.created_at, r.id",
            moved,
        )
        chains = await _earlier_attempts(conn, moved)
    return [Claimed.of(row, chains.get(int(row["id"]), ())) for row in details]


async def _earlier_attempts(conn: asyncpg.Connection, ids: list[int]) -> dict[int, tuple[int, ...]]:
    """Each retry's chain of earlier attempts, newest first (a first attempt has none)."""
    rows = await conn.fetch(
        "WITH RECURSIVE chain (run_id, ancestor, depth) AS ("
        "SELECT id, parent_id, 1 FROM runs WHERE id = ANY($1::bigint[]) AND parent_id IS NOT NULL "
        "UNION ALL SELECT c.run_id, r.parent_id, c.depth + 1 FROM chain c "
        "JOIN runs r ON r.id = c.ancestor WHERE r.parent_id IS NOT NULL) "
        "SELECT run_id, array_agg(ancestor ORDER BY depth) AS earlier FROM chain GROUP BY run_id",
        ids,
    )
    return {int(row["run_id"]): tuple(int(i) for i in row["earlier"]) for row in rows}


async def _plain_candidates(conn: asyncpg.Connection, limit: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT id FROM runs WHERE status = 'QUEUED' AND backfill_id IS NULL "
        "AND (run_after IS NULL OR run_after <= now()) "
        "ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [int(row["id"]) for row in rows]


async def _backfill_candidates(conn: asyncpg.Connection, limit: int) -> list[int]:
    """The next chunks of backfills with room, oldest chunk first, under their provider's cap.

    A provider's backfills share its cap: claims of them take turns on a lock of the provider
    (for this transaction), so two workers never both see room for one more. A group's next
    chunk waits for every earlier one, including a retry still waiting out its backoff.
    """
    groups = await conn.fetch(
        "SELECT b.id, b.provider_id, b.max_concurrency FROM backfills b "
        "WHERE b.canceled_at IS NULL AND EXISTS (SELECT 1 FROM runs r WHERE r.backfill_id = b.id "
        "AND r.status = 'QUEUED' AND (r.run_after IS NULL OR r.run_after <= now())) "
        "ORDER BY b.created_at, b.id LIMIT $1",
        limit,
    )
    found: list[int] = []
    #: Chunks picked here per provider (they become STARTING when this claim commits).
    picked: Counter[int] = Counter()
    for group in groups:
        if len(found) >= limit:
            break
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('headwater-backfill:' || $1, 0))",
            str(group["provider_id"]),
        )
        active = await conn.fetchval(
            "SELECT count(*) FROM runs WHERE provider_id = $1 AND backfill_id IS NOT NULL "
            "AND status = ANY($2::text[])",
            group["provider_id"],
            list(HELD),
        )
        provider = int(group["provider_id"])
        room = min(
            int(group["max_concurrency"]) - int(active) - picked[provider], limit - len(found)
        )
        if room <= 0:
            continue
        rows = await conn.fetch(
            "SELECT id, (run_after IS NULL OR run_after <= now()) AS ready FROM runs "
            "WHERE backfill_id = $1 AND status = 'QUEUED' ORDER BY window_start, id LIMIT $2 "
            "FOR UPDATE",
            group["id"],
            room,
        )
        for row in rows:
            if not row["ready"]:
                break
            found.append(int(row["id"]))
            picked[provider] += 1
    return found


async def renew(
    pool: asyncpg.Pool, owner: str, lease_seconds: float, tracked: list[int]
) -> dict[int, RunStatus]:
    """Extend the leases of the runs this worker executes; those it still holds, by status."""
    rows = await pool.fetch(
        "UPDATE runs SET lease_expires_at = now() + make_interval(secs => $2), "
        "heartbeat_at = now() WHERE lease_owner = $1 AND status = ANY($3::text[]) "
        "AND id = ANY($4::bigint[]) RETURNING id, status",
        owner,
        lease_seconds,
        list(HELD),
        tracked,
    )
    return {int(row["id"]): RunStatus(row["status"]) for row in rows}


async def start_running(pool: asyncpg.Pool, run_id: int, owner: str) -> RunStatus | None:
    """STARTING → RUNNING (the job began); the run's status after, None if no longer held."""
    row = await pool.fetchrow(
        "UPDATE runs SET status = CASE WHEN status = 'STARTING' THEN 'RUNNING' ELSE status END "
        "WHERE id = $1 AND lease_owner = $2 AND status = ANY($3::text[]) RETURNING status",
        run_id,
        owner,
        list(HELD),
    )
    return RunStatus(row["status"]) if row else None


async def begin_commit(pool: asyncpg.Pool, run_id: int, owner: str) -> bool:
    """The commit fence: True when the run is RUNNING and now marked as committing."""
    row = await pool.fetchrow(
        "UPDATE runs SET commit_started_at = now() WHERE id = $1 AND lease_owner = $2 "
        "AND status = 'RUNNING' RETURNING id",
        run_id,
        owner,
    )
    return row is not None


async def record_app(pool: asyncpg.Pool, run_id: int, app_id: str) -> None:
    await pool.execute("UPDATE runs SET spark_app_id = $2 WHERE id = $1", run_id, app_id)


async def record_progress(pool: asyncpg.Pool, run_id: int, metrics: dict[str, float]) -> None:
    """The run's counters so far (listings show them while it runs)."""
    await pool.execute(
        "UPDATE runs SET requests = $2, pages = $3, retries = $4, bytes_read = $5, "
        "rows_read = $6 WHERE id = $1",
        run_id,
        int(metrics.get("requests", 0)),
        int(metrics.get("pages", 0)),
        int(metrics.get("retries", 0)),
        int(metrics.get("bytes", 0)),
        int(metrics.get("records", 0)),
    )


@dataclass(frozen=True, slots=True)
class Ending:
    """How a held run ends: its final status, and why when it failed."""

    status: RunStatus
    error_class: str | None = None
    message: str | None = None
    #: The job's summary (runner.ingest.protocol.summary) when it finished.
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Ended:
    """What ``finish`` did: the status stored, and the retry it queued (if any)."""

    status: RunStatus
    retry_id: int | None


async def finish(pool: asyncpg.Pool, run_id: int, owner: str, ending: Ending) -> Ended | None:
    """End a held run (and queue its next attempt when it failed transiently), atomically.

    None when the run is no longer this worker's (a reaper took it): nothing is written.
    """
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT status FROM runs WHERE id = $1 AND lease_owner = $2 "
            "AND status = ANY($3::text[]) FOR UPDATE",
            run_id,
            owner,
            list(HELD),
        )
        if current is None:
            return None
        status = ending.status
        # A run being canceled can only become CANCELED: whatever stopped it, it stopped.
        if current["status"] == "CANCELING":
            status = RunStatus.CANCELED
        elif current["status"] == "STARTING" and status is RunStatus.SUCCEEDED:
            await conn.execute("UPDATE runs SET status = 'RUNNING' WHERE id = $1", run_id)
        result = ending.result or {}
        stats = result.get("stats") or {}
        failed = status is RunStatus.FAILED
        await conn.execute(
            "UPDATE runs SET status = $2, error_class = $3, error_message = $4, "
            "rows_read = COALESCE($5, rows_read), rows_written = COALESCE($6, rows_written), "
            "snapshot_id = COALESCE($7, snapshot_id), requests = COALESCE($8, requests), "
            "pages = COALESCE($9, pages), retries = COALESCE($10, retries), "
            "bytes_read = COALESCE($11, bytes_read) WHERE id = $1",
            run_id,
            status.value,
            ending.error_class if failed else None,
            clean_text(ending.message[:MAX_MESSAGE])
            if ending.message and (failed or status is RunStatus.CANCELED)
            else None,
            result.get("rows_read"),
            result.get("rows_written"),
            result.get("snapshot_id"),
            stats.get("requests"),
            stats.get("pages"),
            stats.get("retries"),
            stats.get("bytes"),
        )
        await _quality(conn, run_id, result.get("checks") or [])
        retry_id = None
        if failed and ending.error_class is not None:
            retry_id = await _retry(conn, run_id, ending.error_class)
    return Ended(status, retry_id)


async def _quality(conn: asyncpg.Connection, run_id: int, checks: list[dict[str, Any]]) -> None:
    if not checks:
        return
    await conn.executemany(
        "INSERT INTO quality_results (run_id, name, kind, passed, observed, threshold, details, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now())",
        [
            (
                run_id,
                check["name"],
                check["kind"],
                bool(check["passed"]),
                check.get("observed"),
                check.get("threshold"),
                json.dumps({"view": check.get("view"), **(check.get("details") or {})}),
            )
            for check in checks
        ],
    )


async def _retry(conn: asyncpg.Connection, run_id: int, error_class: str) -> int | None:
    """Queue the failed run's next attempt when that is safe and may help.

    Only a transient failure, with attempts left (the plan's retry policy), is retried; never
    a chunk of a backfill canceled meanwhile (it would wait forever), and never a run that had
    begun to commit into a sink a second commit would duplicate (a Parquet or PostgreSQL sink
    that does not merge: an Iceberg sink is safe, the retry skips it when an earlier attempt's
    commit is in the table).
    """
    kind = CLASSES.get(error_class)
    if kind is None or not kind.transient:
        return None
    run = await conn.fetchrow(
        "SELECT r.attempt, r.commit_started_at, b.canceled_at AS backfill_canceled, "
        "v.compiled_plan->'plan'->'execution' AS execution, v.compiled_plan->'plan'->'sinks' "
        "AS sinks FROM runs r JOIN spec_versions v ON v.id = r.version_id "
        "LEFT JOIN backfills b ON b.id = r.backfill_id WHERE r.id = $1",
        run_id,
    )
    if run is None or run["backfill_canceled"] is not None:
        return None
    if run["commit_started_at"] is not None and not _idempotent(run["sinks"]):
        return None
    delay = next_attempt(Attempts.of(run["execution"]), int(run["attempt"]))
    if delay is None:
        return None
    # The chain keeps the first attempt's window, parameters and version; a scheduled tick
    # stays the first attempt's (one run per tick), and a backfill chunk stays in its group.
    new_id = await conn.fetchval(
        "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, "
        "parent_id, parameters, window_start, window_end, logical_date, backfill_id, run_after, "
        "created_at) SELECT tenant_id, provider_id, version_id, 'QUEUED', 'RETRY', attempt + 1, "
        "id, parameters, window_start, window_end, logical_date, backfill_id, "
        "now() + make_interval(secs => $2), now() FROM runs WHERE id = $1 RETURNING id",
        run_id,
        delay,
    )
    return int(new_id)


def _idempotent(sinks: Any) -> bool:
    """True when a second attempt leaves the same tables: every sink merges or is Iceberg's.

    An Iceberg commit carries its run's id, so a retry finds an earlier attempt's commit and
    does not repeat it (runner.ingest.commit); a file or a PostgreSQL table keeps no such mark.
    """
    found = json.loads(sinks) if isinstance(sinks, str) else sinks
    return bool(found) and all(
        sink.get("write_mode") == "merge" or sink.get("type") == "iceberg" for sink in found
    )


@dataclass(frozen=True, slots=True)
class Reaped:
    """A run whose lease expired, as the reaper ended it."""

    id: int
    status: RunStatus
    retry_id: int | None


async def reap(pool: asyncpg.Pool, alive: list[int]) -> list[Reaped]:
    """End the runs whose leases expired (safe in several workers at once).

    A STARTING or RUNNING run becomes FAILED (`worker_lost`, retried like any transient
    failure); a CANCELING one becomes CANCELED. ``alive`` are the runs this worker executes
    now: never reaped here, even when an outage kept it from renewing their leases.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT r.id, r.status, r.lease_owner FROM runs r "
            "WHERE r.status = ANY($1::text[]) AND r.lease_expires_at < now() "
            "AND NOT r.id = ANY($2::bigint[]) ORDER BY r.lease_expires_at LIMIT 100 "
            "FOR UPDATE OF r SKIP LOCKED",
            list(HELD),
            alive,
        )
        reaped: list[Reaped] = []
        for row in rows:
            lost = row["status"] != "CANCELING"
            status = RunStatus.FAILED if lost else RunStatus.CANCELED
            await conn.execute(
                "UPDATE runs SET status = $2, error_class = $3, error_message = $4 WHERE id = $1",
                row["id"],
                status.value,
                "worker_lost" if lost else None,
                f"worker {row['lease_owner']} stopped renewing its lease"
                if lost
                else "canceled; its worker stopped renewing its lease",
            )
            retry_id = await _retry(conn, int(row["id"]), "worker_lost") if lost else None
            reaped.append(Reaped(int(row["id"]), status, retry_id))
    return reaped


async def queue_depth(pool: asyncpg.Pool) -> dict[str, int]:
    """Runs per active status (the worker's metrics)."""
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM runs WHERE status = ANY($1::text[]) GROUP BY status",
        ["QUEUED", *HELD],
    )
    found = dict.fromkeys(("QUEUED", *HELD), 0)
    found.update({row["status"]: int(row["n"]) for row in rows})
    return found
