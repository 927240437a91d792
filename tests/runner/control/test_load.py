"""Many runs at once: 200 concurrent triggers make exactly 200 runs, and every one finishes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from api_client import Api, Keys, post_graphql
from control_setup import TRIGGER_RUN, WorkerProcess, create_provider, ledger_spec

from standins.ledger import Ledger, RunningLedger, serve_in_thread, transactions

COUNT = 200
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
    trino_cursor: Any,
) -> None:
    spec = ledger_spec(quick_ledger.base_url, namespace, **{"lookback_days: 2": "lookback_days: 0"})
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
    # Merged on the transaction id: the day's transactions, once, however many runs wrote them.
    today = datetime.now(UTC).date()
    trino_cursor.execute(
        f"SELECT transaction_id, booked_on FROM iceberg.{namespace}.transactions ORDER BY 1"
    )
    assert [tuple(row) for row in trino_cursor.fetchall()] == [
        (t["id"], date.fromisoformat(t["booked_on"])) for t in transactions(today, today)
    ]
