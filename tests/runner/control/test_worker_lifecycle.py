"""Workers that die, time runs out, or shut down: nothing committed is lost, nothing is stuck.

Each test runs its own workers (and no other worker runs meanwhile), so it knows which one
holds the run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from api_client import Api, Keys
from control_setup import (
    QUICK_RETRIES,
    SLOW,
    attempts_of,
    create_provider,
    polygon_spec,
    run_of,
    running,
    start_worker,
    table_rows,
    trigger,
    wait_for,
    window,
)
from ingest_setup import expected_rows

from standins.polygon.config import FaultConfig
from standins.polygon.server import RunningSim


async def test_a_killed_worker_fails_its_run_as_lost_and_the_retry_succeeds(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, namespace: str, trino_cursor: Any
) -> None:
    provider = await create_provider(
        api, keys.admin, polygon_spec(faults.base_url, namespace, name="lost", **QUICK_RETRIES)
    )
    doomed = start_worker(
        database_url,
        "test-worker-doomed",
        POLYGON_API_KEY=faults.key,
        HEADWATER_WORKER_LEASE_SECONDS="3",
        HEADWATER_WORKER_HEARTBEAT_SECONDS="1",
    )
    faults.set_faults(SLOW)
    first = await trigger(api, keys.run, provider)
    await running(api, keys.read, first)
    # A second worker, started while the first holds the run: its reaper finds the lost lease.
    survivor = start_worker(
        database_url, "test-worker-survivor", POLYGON_API_KEY=faults.key,
        HEADWATER_WORKER_REAP_SECONDS="1",
    )  # fmt: skip
    try:
        doomed.kill()
        killed_at = time.monotonic()
        faults.set_faults(FaultConfig())
        failed = await wait_for(api, keys.read, first, ("FAILED",), timeout=60)
        # The lease (3 s), the reaper's interval (1 s), and a margin.
        assert time.monotonic() - killed_at < 8
        assert failed["errorClass"] == "worker_lost"
        chain = await attempts_of(api, keys.read, first)
        assert [r["attempt"] for r in chain] == [1, 2]
        retry = await wait_for(api, keys.read, chain[1]["id"])
        assert retry["status"] == "SUCCEEDED", retry
    finally:
        survivor.stop()
    start, end = window()
    # Merged on (ticker, bar_date): exactly the window's rows, once, from the retry.
    assert table_rows(trino_cursor, namespace) == expected_rows(start, end, chain[1]["id"])


async def test_the_runtime_limit_and_a_shutdown_stop_runs_without_committing(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, namespace: str, trino_cursor: Any
) -> None:
    provider = await create_provider(
        api, keys.admin, polygon_spec(faults.base_url, namespace, **QUICK_RETRIES)
    )
    limited = start_worker(
        database_url,
        "test-worker-limited",
        POLYGON_API_KEY=faults.key,
        HEADWATER_WORKER_MAX_RUNTIME_SECONDS="2",
        HEADWATER_WORKER_SHUTDOWN_GRACE_SECONDS="1",
    )
    try:
        faults.set_faults(SLOW)
        first = await trigger(api, keys.run, provider)
        timed_out = await wait_for(api, keys.read, first, timeout=60)
        assert (timed_out["status"], timed_out["errorClass"]) == ("FAILED", "timed_out")
        assert [r["id"] for r in await attempts_of(api, keys.read, first)] == [first]
        # A shutdown with a run in flight: the grace (1 s) ends, the run is stopped, and it
        # is retried as a lost worker's would be.
        second = await trigger(api, keys.run, provider)
        await wait_for(api, keys.read, second, ("RUNNING",))
    finally:
        assert limited.stop() == 0
    stopped = await run_of(api, keys.read, second)
    assert (stopped["status"], stopped["errorClass"]) == ("FAILED", "worker_shutdown")
    chain = await attempts_of(api, keys.read, second)
    assert [r["status"] for r in chain] == ["FAILED", "QUEUED"]
    trino_cursor.execute(f"SHOW SCHEMAS FROM iceberg LIKE '{namespace}'")
    assert trino_cursor.fetchall() == []


async def test_a_shutdown_lets_a_run_finish_within_the_grace(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, namespace: str
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(faults.base_url, namespace))
    patient = start_worker(database_url, "test-worker-patient", POLYGON_API_KEY=faults.key)
    faults.set_faults(FaultConfig(latency_ms=(1000.0, 1000.0), slow_rate=1.0))
    run_id = await trigger(api, keys.run, provider)
    await wait_for(api, keys.read, run_id, ("RUNNING",))
    assert await asyncio.to_thread(patient.stop) == 0
    done = await run_of(api, keys.read, run_id)
    assert done["status"] == "SUCCEEDED", done
    assert '"event": "worker.draining"' in patient.log()
