"""A job that dies between commits, and its retry: every table holds each row exactly once.

The job is killed at the moment that matters (right after a commit, before the next one or
before its end is recorded) by the fault-injection point runner.ingest.faults, in a worker of
the test's own; a second worker reaps the lost run and executes its retry. The tables are read
through Trino.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from api_client import Api, Keys
from control_setup import (
    QUICK_RETRIES,
    WorkerProcess,
    attempts_of,
    create_provider,
    events_of,
    polygon_spec,
    start_worker,
    trigger,
    trino_rows,
    wait_for,
    window,
)
from ingest_setup import COLUMNS, expected_rows

from runner.ingest.faults import ENVIRONMENT
from standins.polygon.server import RunningSim

#: The example merges into one table; here it appends, and a second sink appends a copy.
TWO_APPENDS = {
    "        write_mode: merge\n        primary_key: [ticker, bar_date]\n        format-version: 2\n": (
        "        write_mode: append\n"
        "    - type: iceberg\n"
        "      table_name: {namespace}.bars_copy\n"
        "      config:\n"
        "        write_mode: append\n"
    )
}
ONE_APPEND = {
    "        write_mode: merge\n        primary_key: [ticker, bar_date]\n": (
        "        write_mode: append\n"
    )
}


def rows(trino_cursor: Any, namespace: str, table: str) -> list[tuple[Any, ...]]:
    sql = f"SELECT {COLUMNS} FROM iceberg.{namespace}.{table} ORDER BY ticker, bar_date"
    return [tuple(row) for row in trino_rows(trino_cursor, sql)]


def commits(trino_cursor: Any, namespace: str, table: str) -> list[tuple[int, str]]:
    """Each snapshot of the table and the run its summary names, oldest first."""
    sql = (
        f"SELECT snapshot_id, summary['headwater.run-id'] FROM "
        f'iceberg.{namespace}."{table}$snapshots" ORDER BY committed_at'
    )
    return [(int(row[0]), str(row[1])) for row in trino_rows(trino_cursor, sql)]


async def _killed_then_retried(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, spec: str, name: str
) -> tuple[str, dict[str, Any]]:
    """The run's first attempt (killed after its first commit) and its retry, once it ended."""
    provider = await create_provider(api, keys.admin, spec)
    doomed = start_worker(
        database_url,
        f"test-worker-{name}-dies",
        POLYGON_API_KEY=faults.key,
        HEADWATER_WORKER_LEASE_SECONDS="3",
        HEADWATER_WORKER_HEARTBEAT_SECONDS="1",
        **{ENVIRONMENT: "1"},
    )
    survivor: WorkerProcess | None = None
    try:
        first = await trigger(api, keys.run, provider)
        # The job kills its worker right after its first commit.
        assert doomed.process.wait(180) == -signal.SIGKILL, doomed.log()[-3000:]
        _kill_group(doomed)
        survivor = start_worker(
            database_url, f"test-worker-{name}-survivor", POLYGON_API_KEY=faults.key,
            HEADWATER_WORKER_REAP_SECONDS="1",
        )  # fmt: skip
        failed = await wait_for(api, keys.read, first, ("FAILED",), timeout=60)
        assert failed["errorClass"] == "worker_lost", failed
        chain = await attempts_of(api, keys.read, first)
        assert [r["attempt"] for r in chain] == [1, 2]
        retry = await wait_for(api, keys.read, chain[1]["id"])
        assert retry["status"] == "SUCCEEDED", retry
    finally:
        _kill_group(doomed)
        if survivor is not None:
            survivor.stop()
    return first, retry


def _kill_group(worker: WorkerProcess) -> None:
    """The killed worker's Spark JVM too (its process group outlives the worker's process)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGKILL)


async def test_a_job_killed_between_two_commits_is_completed_by_its_retry(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, namespace: str, trino_cursor: Any
) -> None:
    replace = {old: new.format(namespace=namespace) for old, new in TWO_APPENDS.items()}
    spec = polygon_spec(faults.base_url, namespace, name="twosinks", **QUICK_RETRIES, **replace)
    first, retry = await _killed_then_retried(api, keys, database_url, faults, spec, "two")
    start, end = window()
    # The first sink holds the first attempt's rows once (the retry skipped it), the second
    # the retry's: each row exactly once in each table.
    assert rows(trino_cursor, namespace, "stock_daily_bars") == expected_rows(start, end, first)
    assert rows(trino_cursor, namespace, "bars_copy") == expected_rows(start, end, retry["id"])
    (kept,) = commits(trino_cursor, namespace, "stock_daily_bars")
    assert kept[1] == first
    (completed,) = commits(trino_cursor, namespace, "bars_copy")
    assert completed == (int(retry["snapshotId"]), retry["id"])
    retry_log = [e["message"] for e in await events_of(api, keys.read, retry["id"])]
    table = f"headwater.{namespace}.stock_daily_bars"
    assert any(
        m.startswith(f"skipped {table}: run {first}, an earlier attempt") and str(kept[0]) in m
        for m in retry_log
    ), retry_log
    assert [m for m in retry_log if m.startswith("committed ")] == [
        f"committed {len(expected_rows(start, end, first))} row(s) to headwater.{namespace}."
        f"bars_copy, snapshot {completed[0]}"
    ]


async def test_a_retried_append_run_adds_no_duplicate(
    api: Api, keys: Keys, database_url: str, faults: RunningSim, namespace: str, trino_cursor: Any
) -> None:
    spec = polygon_spec(faults.base_url, namespace, name="appends", **QUICK_RETRIES, **ONE_APPEND)
    first, retry = await _killed_then_retried(api, keys, database_url, faults, spec, "one")
    start, end = window()
    expected = expected_rows(start, end, first)
    # Committed once, by the first attempt: the retry found that commit and made none.
    assert rows(trino_cursor, namespace, "stock_daily_bars") == expected
    ((snapshot, owner),) = commits(trino_cursor, namespace, "stock_daily_bars")
    assert owner == first
    # The retry reports the commit it skipped as its result: the first attempt's snapshot.
    assert int(retry["snapshotId"]) == snapshot
    assert retry["metrics"]["rowsWritten"] == len(expected)
    messages = [e["message"] for e in await events_of(api, keys.read, retry["id"])]
    assert not any(m.startswith("committed ") for m in messages)
