"""Backfills: chunk runs in window order, at most their concurrency at once, cancelled whole."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from api_client import Api, Keys
from control_setup import (
    SLOW,
    WorkerProcess,
    all_succeed,
    create_provider,
    polygon_spec,
    table_rows,
    wait_for,
)
from ingest_setup import expected_rows

from standins.polygon.server import RunningSim

BACKFILL = """
mutation($id: ID!, $from: Date!, $to: Date!, $cap: Int!) {
  backfill(providerId: $id, from: $from, to: $to, chunkDays: 1, maxConcurrency: $cap) {
    __typename ... on BackfillQueued { backfill { id } runs { id windowStart } }
    ... on Problem { message }
  }
}
"""
GROUP = """
query($id: ID!) {
  backfill(id: $id) {
    status maxConcurrency progress { total queued running succeeded failed canceled }
    runs { id status windowStart startedAt finishedAt }
  }
}
"""
CANCEL = """
mutation($id: ID!) {
  cancelBackfill(id: $id) {
    __typename ... on BackfillCanceled { backfill { status } } ... on Problem { message }
  }
}
"""
START = date(2024, 4, 1)  # a Monday: four weekdays of bars


async def backfill(api: Api, key: str, provider: str, days: int, cap: int) -> tuple[str, list[str]]:
    end = START + timedelta(days=days - 1)
    variables = {"id": provider, "from": str(START), "to": str(end), "cap": cap}
    result = (await api.data(BACKFILL, variables, key))["backfill"]
    assert result["__typename"] == "BackfillQueued", result
    return result["backfill"]["id"], [run["id"] for run in result["runs"]]


async def group_of(api: Api, key: str, ident: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(GROUP, {"id": ident}, key))["backfill"]
    return found


def most_at_once(runs: list[dict[str, Any]]) -> int:
    """How many of the runs were running at the same time, at most."""
    moments = [(datetime.fromisoformat(r["startedAt"]), 1) for r in runs] + [
        (datetime.fromisoformat(r["finishedAt"]), -1) for r in runs
    ]
    current = peak = 0
    for _, step in sorted(moments):
        current += step
        peak = max(peak, current)
    return peak


async def test_chunks_run_in_window_order_one_at_a_time(
    api: Api, keys: Keys, worker: WorkerProcess, sim: RunningSim, namespace: str, trino_cursor: Any
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(sim.base_url, namespace))
    ident, runs = await backfill(api, keys.run, provider, 4, 1)
    await all_succeed(api, keys.read, runs)
    group = await group_of(api, keys.read, ident)
    assert group["status"] == "SUCCEEDED"
    assert group["progress"] == {
        "total": 4, "queued": 0, "running": 0, "succeeded": 4, "failed": 0, "canceled": 0
    }  # fmt: skip
    ordered = group["runs"]
    assert [r["windowStart"] for r in ordered] == [str(START + timedelta(days=n)) for n in range(4)]
    # Each chunk started after the one before it ended.
    for before, after in itertools.pairwise(ordered):
        assert after["startedAt"] >= before["finishedAt"]
    # Each chunk wrote its own day (lookback does not apply to a backfill's window).
    rows = table_rows(trino_cursor, namespace)
    by_day = {day: expected_rows(day, day, run) for run, day in zip(runs, _days(4), strict=True)}
    assert rows == sorted(
        (row for day in by_day.values() for row in day), key=lambda row: (row[0], row[1])
    )


def _days(count: int) -> list[date]:
    return [START + timedelta(days=n) for n in range(count)]


async def test_a_concurrency_cap_of_two_is_never_exceeded(
    api: Api, keys: Keys, worker: WorkerProcess, sim: RunningSim, namespace: str
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(sim.base_url, namespace))
    ident, runs = await backfill(api, keys.run, provider, 4, 2)
    await all_succeed(api, keys.read, runs)
    group = await group_of(api, keys.read, ident)
    assert group["maxConcurrency"] == 2
    assert most_at_once(group["runs"]) <= 2


async def test_cancelling_a_backfill_stops_every_chunk_left(
    api: Api, keys: Keys, worker: WorkerProcess, faults: RunningSim, namespace: str
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(faults.base_url, namespace))
    faults.set_faults(SLOW)
    ident, runs = await backfill(api, keys.run, provider, 5, 1)
    await wait_for(api, keys.read, runs[0], ("RUNNING",))
    result = (await api.data(CANCEL, {"id": ident}, keys.run))["cancelBackfill"]
    assert result["__typename"] == "BackfillCanceled", result
    for run in runs:
        assert (await wait_for(api, keys.read, run, timeout=60))["status"] == "CANCELED"
    group = await group_of(api, keys.read, ident)
    assert group["status"] == "CANCELED"
    assert group["progress"]["canceled"] == 5
    again = (await api.data(CANCEL, {"id": ident}, keys.run))["cancelBackfill"]
    assert again["__typename"] == "IllegalTransition"
