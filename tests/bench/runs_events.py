"""The event write path of `make bench-runs`: 100,000 log lines of one run, stored and streamed.

The worker's EventLog writes them (batched COPY, through the database's numbering and NOTIFY
triggers) while a runEvents subscriber of the real API reads them; the baseline is one plain
COPY of the same rows into a table with run_events' columns and indexes but no trigger.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from api_client import Api
from control_setup import trigger
from runs_platform import provider_of

from api.models.enums import EventKind
from runner.control.events import EventLog


class TimedEventLog(EventLog):
    """An EventLog that notes when each line's batch committed (for commit → subscriber)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.committed: dict[str, float] = {}

    async def _write(self, batch: list) -> None:  # type: ignore[override, type-arg]
        await super()._write(batch)
        now = time.monotonic()
        for item in batch:
            self.committed[item.message] = now


async def _running_run(api: Api, key: str, pool: asyncpg.Pool, spec: str) -> int:
    provider = await provider_of(api, key, spec)
    run_id = int(await trigger(api, key, provider))
    # What a worker does when it claims the run and its job starts.
    for status in ("STARTING", "RUNNING"):
        await pool.execute("UPDATE runs SET status = $2 WHERE id = $1", run_id, status)
    return run_id


async def _subscribe(
    api: Api, key: str, run_id: int, after: int, arrived: dict[str, float]
) -> None:
    async with api.websocket(key) as socket:
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.subscribe(
            "1",
            "subscription($id: ID!, $after: Long!) { runEvents(runId: $id, after: $after) "
            "{ kind message } }",
            {"id": str(run_id), "after": after},
        )
        while True:
            message = await socket.receive()
            if message.get("type") == "complete":
                return
            if message.get("type") == "next":
                item = message["payload"]["data"]["runEvents"]
                arrived[item["message"]] = time.monotonic()


@dataclass(frozen=True)
class Burst:
    """Lines/s of one burst: the EventLog, and the database's own COPY of the same rows."""

    event_log: float
    copy_into_run_events: float
    copy_into_bare_table: float


async def burst(api: Api, key: str, url: str, spec: str, lines: int) -> Burst:
    """A burst of ``lines`` through the EventLog, then one COPY of the same rows two ways."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        run_id = await _running_run(api, key, pool, spec)
        events = EventLog(pool)
        writer = asyncio.create_task(events.run())
        started = time.perf_counter()
        for n in range(lines):
            events.add(run_id, EventKind.LOG, f"burst line {n:06d}")
        await events.flush(run_id, timeout=600)
        stored = time.perf_counter() - started
        writer.cancel()
        now = datetime.now(UTC)
        columns = ("run_id", "seq", "at", "kind", "level", "message", "payload")
        async with pool.acquire() as conn:
            # run_events itself, numbered as the EventLog numbers (its triggers, its key checks).
            last = int(await conn.fetchval("SELECT event_seq FROM runs WHERE id = $1", run_id))
            rows = [(run_id, last + 1 + n, now, "LOG", "INFO", f"copied line {n:06d}", None)
                    for n in range(lines)]  # fmt: skip
            async with conn.transaction():
                await conn.execute("SET LOCAL headwater.batch_events = 'on'")
                await conn.execute(
                    "UPDATE runs SET event_seq = event_seq + $2 WHERE id = $1", run_id, lines
                )
                started = time.perf_counter()
                await conn.copy_records_to_table("run_events", records=rows, columns=columns)
                into_events = time.perf_counter() - started
            # A table of the same columns and indexes (logged, like it), without trigger or key.
            await conn.execute(
                "DROP TABLE IF EXISTS bench_plain_events; CREATE TABLE bench_plain_events "
                "(id bigserial PRIMARY KEY, run_id bigint, seq bigint, at timestamptz, "
                "kind varchar(16), level varchar(16), message text, payload jsonb, "
                "UNIQUE (run_id, seq))"
            )
            started = time.perf_counter()
            await conn.copy_records_to_table("bench_plain_events", records=rows, columns=columns)
            into_bare = time.perf_counter() - started
            await conn.execute("DROP TABLE bench_plain_events")
        await pool.execute("UPDATE runs SET status = 'SUCCEEDED' WHERE id = $1", run_id)
    finally:
        await pool.close()
    return Burst(lines / stored, lines / into_events, lines / into_bare)


async def paced(api: Api, key: str, url: str, spec: str, lines: int, rate: float) -> list[float]:
    """Milliseconds from each line's commit to its subscriber, logged at ``rate`` lines/s."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        run_id = await _running_run(api, key, pool, spec)
        after = int(await pool.fetchval("SELECT event_seq FROM runs WHERE id = $1", run_id))
        events = TimedEventLog(pool)
        writer = asyncio.create_task(events.run())
        arrived: dict[str, float] = {}
        subscriber = asyncio.create_task(_subscribe(api, key, run_id, after, arrived))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        # Lines go out in slices of 10 ms, as a job's log lines would, not all at once.
        for n in range(lines):
            events.add(run_id, EventKind.LOG, f"paced line {n:06d}")
            if n % max(1, int(rate / 100)) == 0:
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await events.flush(run_id, timeout=600)
        await pool.execute("UPDATE runs SET status = 'SUCCEEDED' WHERE id = $1", run_id)
        await asyncio.wait_for(subscriber, 600)
        writer.cancel()
    finally:
        await pool.close()
    missing = [m for m in events.committed if m not in arrived]
    if missing:
        raise RuntimeError(f"{len(missing)} line(s) never reached the subscriber")
    return [(arrived[m] - at) * 1000 for m, at in events.committed.items()]
