"""The event write path: 100,000 log lines of one run, stored in order and streamed live."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from api_client import Api, Keys, spec_for
from control_setup import create_provider, trigger
from live_client import Mailbox

from api.models.enums import EventKind
from runner.control.events import EventLog

LINES = 100_000


@pytest.fixture
async def pool(clean: str) -> AsyncIterator[asyncpg.Pool]:
    found = await asyncpg.create_pool(clean, min_size=1, max_size=2)
    assert found is not None
    yield found
    await found.close()


async def test_a_run_logging_100k_lines_stores_and_streams_every_one_in_order(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    provider = await create_provider(api, keys.admin, spec_for())
    run_id = await trigger(api, keys.run, provider)
    # What a worker does when it claims the run and its job starts.
    for status in ("STARTING", "RUNNING"):
        await pool.execute("UPDATE runs SET status = $2 WHERE id = $1", int(run_id), status)
    after = int(await pool.fetchval("SELECT event_seq FROM runs WHERE id = $1", int(run_id)))
    events = EventLog(pool)
    writing = asyncio.create_task(events.run())
    received: list[dict[str, Any]] = []

    async def subscriber() -> None:
        async with api.websocket(keys.read) as socket:
            mailbox = Mailbox(socket)
            await mailbox.acknowledged()
            await socket.subscribe(
                "1",
                "subscription($id: ID!, $after: Long!) "
                "{ runEvents(runId: $id, after: $after) { seq kind message } }",
                {"id": run_id, "after": after},
            )
            while True:
                message = await mailbox.take("1", timeout=60)
                if message["type"] == "complete":
                    return
                received.append(message["payload"]["data"]["runEvents"])

    watching = asyncio.create_task(subscriber())
    await asyncio.sleep(0.5)

    def job() -> None:
        # The job logs from its own thread, as fast as it can.
        for n in range(LINES):
            events.add(int(run_id), EventKind.LOG, f"line {n:06d}")

    logger = threading.Thread(target=job)
    logger.start()
    await asyncio.to_thread(logger.join)
    assert await events.flush(int(run_id), timeout=120)
    await pool.execute("UPDATE runs SET status = 'SUCCEEDED' WHERE id = $1", int(run_id))
    await asyncio.wait_for(watching, 120)
    writing.cancel()

    stored = await pool.fetch(
        "SELECT seq, message FROM run_events WHERE run_id = $1 AND kind = 'LOG' ORDER BY seq",
        int(run_id),
    )
    assert [row["message"] for row in stored] == [f"line {n:06d}" for n in range(LINES)]
    seqs = [int(row["seq"]) for row in stored]
    assert seqs == list(range(after + 1, after + LINES + 1))
    logs = [item for item in received if item["kind"] == "LOG"]
    assert [item["message"] for item in logs] == [f"line {n:06d}" for n in range(LINES)]
    assert [int(item["seq"]) for item in received] == list(
        range(after + 1, after + len(received) + 1)
    )
    assert received[-1]["kind"] == "STATUS"


async def test_text_postgresql_refuses_is_cleaned_and_never_stalls_the_queue(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    provider = await create_provider(api, keys.admin, spec_for())
    run_id = int(await trigger(api, keys.run, provider))
    events = EventLog(pool)
    writing = asyncio.create_task(events.run())
    # A source may send NUL characters and broken UTF-16: they reach log lines and payloads.
    events.add(run_id, EventKind.LOG, "before\x00after \udc80 " + "x" * 80_000)
    events.add(run_id, EventKind.METRIC, "metric", payload={"quoted": "a\x00b"})
    events.add(run_id + 1000, EventKind.LOG, "a run that does not exist")
    events.add(run_id, EventKind.LOG, "the next line")
    assert await events.flush(timeout=30)
    writing.cancel()
    rows = await pool.fetch(
        "SELECT kind, message, payload FROM run_events WHERE run_id = $1 AND kind <> 'STATUS' "
        "ORDER BY seq",
        run_id,
    )
    messages = [row["message"] for row in rows]
    # Cut at 50,000 characters, then the NUL dropped.
    assert messages[0].startswith("beforeafter ? xxx") and len(messages[0]) == 49_999
    assert messages[1:] == ["metric", "the next line"]
    assert rows[1]["payload"] == '{"quoted": "ab"}'
