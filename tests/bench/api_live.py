"""Commit-to-subscriber latency: many websocket subscribers of one server, events from the DB.

Shape: 1,000 subscribers, each on its own websocket (like 1,000 portal tabs), following
`runEvents` of 20 active runs, 50 subscribers per run. A live run is watched by several people
at once, and several runs are live at a time; so one NOTIFY fans out to 50 sockets, which is
the cost that grows with the number of subscribers (one subscriber per run would measure
little more than PostgreSQL's NOTIFY). Log lines are then written the way the runner writes
them, spread over the runs at a steady rate, each stamped `at = clock_timestamp()`.

Two latencies per (event, subscriber): receive time minus the event's `at` (stamped inside the
inserting transaction, just before its commit: an upper bound) and receive time minus the time
the writer saw its commit return (a lower bound). Both use the host's wall clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import asyncpg
from api_seed import LIVE_TENANT
from api_server import Server
from websockets.asyncio.client import ClientConnection, connect

SUBSCRIPTION = "subscription($run: ID!) { runEvents(runId: $run) { seq } }"
#: Opened at most this many at a time: a burst of 1,000 handshakes is not what is measured.
CONNECT_CONCURRENCY = 50


@dataclass
class Latencies:
    """Seconds from commit to each subscriber, by the two clocks (see the module docstring)."""

    subscribers: int
    runs: int
    events: int
    rate: float
    from_at: list[float] = field(default_factory=list)
    from_commit: list[float] = field(default_factory=list)
    expected: int = 0
    received: int = 0


@dataclass
class _Written:
    at: float
    committed: float


async def _live_runs(conn: asyncpg.Connection, count: int) -> list[int]:
    """Fresh RUNNING runs (through the state machine) of the bench's live tenant."""
    await conn.execute("DELETE FROM runs WHERE tenant_id = $1", LIVE_TENANT)
    ids: list[int] = [
        row["id"]
        for row in await conn.fetch(
            "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, "
            "parameters, created_at, rows_read, rows_written, bytes_read, pages, requests, "
            "retries, event_seq) SELECT $1, id, current_version_id, 'QUEUED', 'MANUAL', 1, '{}', "
            "now(), 0, 0, 0, 0, 0, 0, 0 FROM providers ORDER BY id LIMIT $2 RETURNING id",
            LIVE_TENANT,
            count,
        )
    ]
    for status in ("STARTING", "RUNNING"):
        await conn.execute("UPDATE runs SET status = $1 WHERE id = ANY($2)", status, ids)
    return ids


async def _subscribe(server: Server, token: str, run_id: int) -> ClientConnection:
    """A socket subscribed to the run's events, once it has caught up (so it is live)."""
    ws = await connect(server.api.ws_url, subprotocols=["graphql-transport-ws"], max_queue=None)  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"run": str(run_id)}},
            }
        )
    )
    # QUEUED, STARTING, RUNNING: read from the table after registering with the broker.
    for _ in range(3):
        message = json.loads(await ws.recv())
        assert message["type"] == "next" and "errors" not in message["payload"], message
    return ws


async def measure(
    server: Server,
    database_url: str,
    token: str,
    *,
    subscribers: int = 1000,
    runs: int = 20,
    events: int = 400,
    rate: float = 25.0,
) -> Latencies:
    """Open the subscribers, write ``events`` log lines at ``rate`` per second, collect latencies."""
    writer = await asyncpg.connect(database_url)
    result = Latencies(subscribers, runs, events, rate)
    sockets: list[ClientConnection] = []
    try:
        run_ids = await _live_runs(writer, runs)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def opened(run_id: int) -> ClientConnection:
            async with gate:
                return await _subscribe(server, token, run_id)

        targets = [run_ids[n % runs] for n in range(subscribers)]
        sockets = list(await asyncio.gather(*(opened(run_id) for run_id in targets)))
        written: dict[tuple[int, int], _Written] = {}
        arrivals: list[tuple[int, int, float]] = []
        per_socket = [0] * subscribers
        per_run = [0] * runs
        for n in range(events):
            per_run[n % runs] += 1
        wanted = [per_run[run_ids.index(run_id)] for run_id in targets]

        async def listen(index: int, ws: ClientConnection, run_id: int) -> None:
            while per_socket[index] < wanted[index]:
                message = json.loads(await ws.recv())
                received = time.time()
                assert message["type"] == "next", message
                arrivals.append(
                    (run_id, int(message["payload"]["data"]["runEvents"]["seq"]), received)
                )
                per_socket[index] += 1

        listeners = [
            asyncio.create_task(listen(i, ws, run_id))
            for i, (ws, run_id) in enumerate(zip(sockets, targets, strict=True))
        ]
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for n in range(events):
            run_id = run_ids[n % runs]
            row = await writer.fetchrow(
                "INSERT INTO run_events (run_id, seq, kind, level, message, at) "
                "VALUES ($1, NULL, 'LOG', 'INFO', $2, clock_timestamp()) RETURNING seq, at",
                run_id,
                f"fetched page {n} of AAPL: 5000 rows",
            )
            assert row is not None
            written[(run_id, int(row["seq"]))] = _Written(row["at"].timestamp(), time.time())
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.wait_for(asyncio.gather(*listeners), timeout=60)
        result.expected = sum(wanted)
        result.received = len(arrivals)
        for run_id, seq, received in arrivals:
            mark = written[(run_id, seq)]
            result.from_at.append(received - mark.at)
            result.from_commit.append(received - mark.committed)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await writer.execute("DELETE FROM runs WHERE tenant_id = $1", LIVE_TENANT)
        await writer.close()
    return result
