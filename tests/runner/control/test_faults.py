"""Faults mid-run, each ending with nothing lost, nothing duplicated and nothing stuck.

The database restarted, a cancel, transient and terminal failures: each is checked in the
table (through Trino) and on the runs. (Workers that die or stop: test_worker_lifecycle.py.)
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from api_client import Api, Keys
from control_setup import (
    CANCEL_RUN,
    QUICK_RETRIES,
    SLOW,
    WorkerProcess,
    attempts_of,
    create_provider,
    events_of,
    polygon_spec,
    running,
    snapshots,
    table_rows,
    trigger,
    wait_for,
    window,
)
from ingest_setup import expected_rows, run_script
from live_client import Mailbox

from standins.polygon.config import FaultConfig
from standins.polygon.server import RunningSim


async def _collect(api: Api, key: str, run_id: str, into: list[dict[str, Any]]) -> None:
    """Every event runEvents delivers from the start, to the run's end."""
    async with api.websocket(key) as socket:
        mailbox = Mailbox(socket)
        await mailbox.acknowledged()
        await socket.subscribe(
            "1",
            "subscription($id: ID!) { runEvents(runId: $id, after: 0) { seq kind message } }",
            {"id": run_id},
        )
        while True:
            message = await mailbox.take("1", timeout=120)
            if message["type"] == "complete":
                return
            assert message["type"] == "next", message
            into.append(message["payload"]["data"]["runEvents"])


async def patient_wait(api: Api, key: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
    """wait_for, through a database restart (requests fail while it is away)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await wait_for(api, key, run_id, timeout=max(1.0, deadline - time.monotonic()))
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_a_database_restart_mid_run_loses_no_event(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    faults: RunningSim,
    namespace: str,
    trino_cursor: Any,
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(faults.base_url, namespace))
    faults.set_faults(SLOW)
    run_id = await trigger(api, keys.run, provider)
    delivered: list[dict[str, Any]] = []
    watching = asyncio.create_task(_collect(api, keys.read, run_id, delivered))
    await running(api, keys.read, run_id)
    # While the run fetches (and logs, and reports progress), the database goes away and back.
    await asyncio.to_thread(run_script, "postgres.sh", "stop")
    await asyncio.sleep(2.0)
    await asyncio.to_thread(run_script, "postgres.sh", "start")
    faults.set_faults(FaultConfig())
    run = await patient_wait(api, keys.read, run_id)
    assert run["status"] == "SUCCEEDED", run["errorMessage"]
    await asyncio.wait_for(watching, 60)
    stored = await events_of(api, keys.read, run_id)
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    # The subscriber got every stored event once, in order, across the outage.
    assert [(e["seq"], e["message"]) for e in delivered] == [
        (e["seq"], e["message"]) for e in stored
    ]
    assert any(e["kind"] == "PROGRESS" for e in stored)
    start, end = window()
    assert table_rows(trino_cursor, namespace) == expected_rows(start, end, run_id)


async def test_a_cancel_mid_run_commits_nothing_and_is_not_retried(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    faults: RunningSim,
    namespace: str,
    trino_cursor: Any,
) -> None:
    provider = await create_provider(
        api, keys.admin, polygon_spec(faults.base_url, namespace, **QUICK_RETRIES)
    )
    first = await trigger(api, keys.run, provider)
    assert (await wait_for(api, keys.read, first))["status"] == "SUCCEEDED"
    before = snapshots(trino_cursor, namespace)
    rows = table_rows(trino_cursor, namespace)
    faults.set_faults(SLOW)
    second = await trigger(api, keys.run, provider)
    await running(api, keys.read, second)
    asked = time.monotonic()
    canceled = (await api.data(CANCEL_RUN, {"id": second}, keys.run))["cancelRun"]
    assert canceled == {"__typename": "RunCanceled", "run": {"status": "CANCELING"}}
    run = await wait_for(api, keys.read, second, timeout=60)
    assert run["status"] == "CANCELED", run
    # Its Spark jobs were cancelled, not waited for (the source answers in 3 s per request).
    assert time.monotonic() - asked < 10
    assert snapshots(trino_cursor, namespace) == before
    assert table_rows(trino_cursor, namespace) == rows
    await asyncio.sleep(2.0)
    assert [r["id"] for r in await attempts_of(api, keys.read, second)] == [second]
    messages = [e["message"] for e in await events_of(api, keys.read, second)]
    assert "RUNNING -> CANCELING" in messages and "CANCELING -> CANCELED" in messages
    assert not any(m.startswith("committed") for m in messages)


async def test_a_transient_failure_is_retried_after_its_backoff(
    api: Api, keys: Keys, worker: WorkerProcess, faults: RunningSim, namespace: str
) -> None:
    provider = await create_provider(
        api, keys.admin, polygon_spec(faults.base_url, namespace, **QUICK_RETRIES)
    )
    faults.set_faults(FaultConfig(error_rate=1.0, error_statuses=(503,)))
    first = await trigger(api, keys.run, provider)
    failed = await wait_for(api, keys.read, first, timeout=120)
    faults.set_faults(FaultConfig())
    assert (failed["status"], failed["errorClass"]) == ("FAILED", "http_transient")
    assert "HTTP 503" in failed["errorMessage"]
    chain = await attempts_of(api, keys.read, first)
    assert [r["attempt"] for r in chain] == [1, 2] and chain[1]["trigger"] == "RETRY"
    retry = await wait_for(api, keys.read, chain[1]["id"])
    assert retry["status"] == "SUCCEEDED"
    # The retry waited out its backoff (half of 1 s at least) after the failure.
    started = datetime.fromisoformat(retry["startedAt"])
    assert started - datetime.fromisoformat(failed["finishedAt"]) >= timedelta(seconds=0.5)


@pytest.mark.parametrize(
    ("replace", "error_class"),
    [
        ({"env:POLYGON_API_KEY": "env:HEADWATER_SECRET_WRONG_POLYGON_KEY"}, "http_terminal"),
        ({"env:POLYGON_API_KEY": "env:HEADWATER_SECRET_NOT_SET_ANYWHERE"}, "secret_unavailable"),
    ],
    ids=["refused-key", "secret-missing"],
)
async def test_a_terminal_failure_is_not_retried(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    faults: RunningSim,
    namespace: str,
    replace: dict[str, str],
    error_class: str,
) -> None:
    spec = polygon_spec(faults.base_url, namespace, **QUICK_RETRIES, **replace)
    provider = await create_provider(api, keys.admin, spec)
    first = await trigger(api, keys.run, provider)
    failed = await wait_for(api, keys.read, first)
    assert (failed["status"], failed["errorClass"]) == ("FAILED", error_class)
    await asyncio.sleep(2.5)
    assert [r["id"] for r in await attempts_of(api, keys.read, first)] == [first]
