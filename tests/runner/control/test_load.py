"""Many runs at once: 200 concurrent triggers make exactly 200 runs, and every one finishes."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pyarrow.parquet as pq
import pytest
from api_client import ROOT, Api, Keys, post_graphql
from control_setup import TRIGGER_RUN, WorkerProcess, create_provider, ledger_spec

from standins.ledger import Ledger, RunningLedger, serve_in_thread, transactions

COUNT = 200
LEDGER_SINK = (
    "  sinks:\n    - type: iceberg\n      table_name: {namespace}.transactions\n"
    '      partition_by: ["days(booked_on)"]\n      config:\n        write_mode: merge\n'
    "        primary_key: [transaction_id]\n"
)
FINISHED = """query($p: ID!, $s: [RunStatus!]) {
  runs(filter: {providerIds: [$p], statuses: $s}) { totalCount } }"""


@pytest.fixture
def quick_ledger() -> Iterator[RunningLedger]:
    """A ledger that never throttles: the runs are as small as a run gets."""
    with serve_in_thread(Ledger()) as running:
        yield running


async def count(api: Api, key: str, provider: str, statuses: list[str] | None = None) -> int:
    found = await api.data(FINISHED, {"p": provider, "s": statuses}, key)
    return int(found["runs"]["totalCount"])


async def test_200_concurrent_triggers_make_200_runs_that_all_finish(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    quick_ledger: RunningLedger,
    namespace: str,
) -> None:
    # Each run appends its day's transactions to a Parquet folder: a run executed twice, or
    # lost, shows in the row count (and an append costs less than a merge).
    # Under the tenant's file root (the platform's default, <var>/files/default).
    folder = ROOT / "var" / "files" / "default" / f"load-{uuid.uuid4().hex[:8]}"
    sink = (
        "  sinks:\n    - type: parquet\n      config:\n"
        f"        path: {folder}\n        write_mode: append\n"
    )
    sinks = LEDGER_SINK.format(namespace=namespace)
    spec = ledger_spec(
        quick_ledger.base_url,
        namespace,
        **{"lookback_days: 2": "lookback_days: 0", sinks: sink},
    )
    provider = await create_provider(api, keys.admin, spec)
    limits = httpx.Limits(max_connections=COUNT)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as http:
        answers = await asyncio.gather(
            *(post_graphql(http, TRIGGER_RUN, {"id": provider}, keys.run) for _ in range(COUNT))
        )
    results = [answer.json()["data"]["triggerRun"] for answer in answers]
    assert all(result["__typename"] == "RunQueued" for result in results), results[:3]
    assert len({result["run"]["id"] for result in results}) == COUNT
    assert await count(api, keys.read, provider) == COUNT
    deadline = time.monotonic() + 600
    while await count(api, keys.read, provider, ["SUCCEEDED", "FAILED", "CANCELED"]) < COUNT:
        assert time.monotonic() < deadline, "the runs did not all finish in 10 minutes"
        await asyncio.sleep(1.0)
    assert await count(api, keys.read, provider, ["SUCCEEDED"]) == COUNT
    # Every run appended the day's transactions once: 200 times the day, no more, no less.
    today = datetime.now(UTC).date()
    day = sorted(t["id"] for t in transactions(today, today))
    written = pq.read_table(folder, columns=["transaction_id"]).column(0).to_pylist()
    shutil.rmtree(folder)
    assert sorted(written) == sorted(day * COUNT)
