"""Through GraphQL only: a provider is created, a run triggered, watched live, and its rows read.

Both sources: the Polygon example against the local Polygon server, and the ledger (token
cursors, an API key header, 429s) against the tests' ledger server.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from api_client import Api, Keys
from control_setup import (
    WorkerProcess,
    create_provider,
    events_of,
    ledger_spec,
    polygon_spec,
    trigger,
    wait_for,
)
from ingest_setup import COLUMNS, expected_rows
from live_client import Mailbox

from standins.ledger import RunningLedger, transactions
from standins.polygon.server import RunningSim

FEED = "subscription($p: [ID!]) { runsFeed(filter: {providerIds: $p}) { status run { id } } }"
RUN_STATUS = "subscription($id: ID!) { runStatus(runId: $id) { status seq } }"
RUN_EVENTS = (
    "subscription($id: ID!) { runEvents(runId: $id, after: 0) { seq kind message payload } }"
)
PROVIDER = """query($id: ID!) { provider(id: $id) { successRate nextScheduledRun
  recentRuns(first: 1) { id status } } }"""


async def follow(api: Api, key: str, query: str, run_id: str, field: str) -> list[dict[str, Any]]:
    """Every item a subscription delivers, to its end."""
    async with api.websocket(key) as socket:
        mailbox = Mailbox(socket)
        await mailbox.acknowledged()
        await socket.subscribe("1", query, {"id": run_id})
        # A cold worker's first run may stay quiet for a while between its events.
        return await mailbox.until_complete("1", field, timeout=180)


async def feed_until(api: Api, key: str, provider: str, opened: asyncio.Event) -> list[str]:
    """The statuses the runs feed delivers for the provider's runs, up to the first end."""
    async with api.websocket(key) as socket:
        mailbox = Mailbox(socket)
        await mailbox.acknowledged()
        await socket.subscribe("feed", FEED, {"p": [provider]})
        # The feed reports changes from its start on: it is open before the run is triggered.
        await asyncio.sleep(0.5)
        opened.set()
        statuses: list[str] = []
        while not statuses or statuses[-1] not in ("SUCCEEDED", "FAILED", "CANCELED"):
            statuses.append((await mailbox.data("feed", "runsFeed", timeout=180))["status"])
        return statuses


async def watch(api: Api, key: str, run_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The statuses runStatus delivers and every event runEvents delivers, to the end."""
    statuses, events = await asyncio.gather(
        follow(api, key, RUN_STATUS, run_id, "runStatus"),
        follow(api, key, RUN_EVENTS, run_id, "runEvents"),
    )
    return [s["status"] for s in statuses], events


def lineage_runs(path: Path) -> list[dict[str, str]]:
    """The custom properties of the runs described in a lineage file."""
    records = json.loads(path.read_text())
    return [
        record["aspect"]["json"]["customProperties"]
        for record in records
        if record["aspectName"] == "dataProcessInstanceProperties"
    ]


async def test_the_polygon_provider_end_to_end(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    sim: RunningSim,
    namespace: str,
    trino_cursor: Any,
    lineage_dir: Path,
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(sim.base_url, namespace))
    opened = asyncio.Event()
    feeding = asyncio.create_task(feed_until(api, keys.read, provider, opened))
    await opened.wait()
    run_id = await trigger(api, keys.run, provider)
    (statuses, events), run = await asyncio.gather(
        watch(api, keys.read, run_id), wait_for(api, keys.read, run_id)
    )
    assert run["status"] == "SUCCEEDED", run
    # A live list sees every status of the run, from the first.
    assert await feeding == ["QUEUED", "STARTING", "RUNNING", "SUCCEEDED"]
    # runStatus starts at the status of the moment, then follows each change in order.
    order = ["QUEUED", "STARTING", "RUNNING", "SUCCEEDED"]
    assert statuses == order[order.index(statuses[0]) :]
    changes = [e["message"] for e in events if e["kind"] == "STATUS"]
    assert changes == [
        "QUEUED",
        "QUEUED -> STARTING",
        "STARTING -> RUNNING",
        "RUNNING -> SUCCEEDED",
    ]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    kinds = [e["kind"] for e in events]
    running, done = kinds.index("STATUS", 2 + 1), len(kinds) - 1
    progress = [e for e in events[running:done] if e["kind"] == "PROGRESS"]
    assert [p["payload"]["stage"] for p in progress if "stage" in (p["payload"] or {})] == [
        "prepare", "fetch", "transform", "check", "commit", "lineage"
    ]  # fmt: skip
    assert any((p["payload"] or {}).get("metrics", {}).get("pages") == 5 for p in progress)

    today = datetime.now(UTC).date()
    expected = expected_rows(today - timedelta(days=5), today, run_id)
    trino_cursor.execute(
        f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY ticker, bar_date"
    )
    assert [tuple(row) for row in trino_cursor.fetchall()] == expected
    assert run["metrics"]["rowsWritten"] == len(expected) and run["metrics"]["pages"] == 5
    assert all(check["passed"] for check in run["qualityResults"]) and run["qualityResults"]

    detail = (await api.data(PROVIDER, {"id": provider}, keys.read))["provider"]
    assert detail["successRate"] == 1.0
    assert detail["recentRuns"] == [{"id": run_id, "status": "SUCCEEDED"}]
    assert datetime.fromisoformat(detail["nextScheduledRun"]) > datetime.now(UTC)
    # The worker's own metrics saw it.
    assert worker.metric("headwater_worker_runs_finished_total", 'status="SUCCEEDED"') >= 1
    assert worker.metric("headwater_worker_rows_written_total") >= len(expected)
    written = [e for e in events if e["kind"] != "STATUS"]  # status events: the database's
    assert worker.metric("headwater_worker_events_written_total") >= len(written)
    assert worker.metric("headwater_worker_claim_to_running_seconds_count") >= 1
    described = lineage_runs(lineage_dir / f"{run_id}.json")
    key = f"snapshot_id.{namespace}.stock_daily_bars"
    assert [props[key] for props in described if key in props] == [str(run["snapshotId"])]


async def test_the_ledger_provider_end_to_end(
    api: Api,
    keys: Keys,
    worker: WorkerProcess,
    ledger: RunningLedger,
    namespace: str,
    trino_cursor: Any,
) -> None:
    # Small pages over a week: several pages, several of them refused with 429 first.
    spec = ledger_spec(
        ledger.base_url,
        namespace,
        **{"page_size: 25": "page_size: 4", "lookback_days: 2": "lookback_days: 6"},
    )
    provider = await create_provider(api, keys.admin, spec)
    before = dict(ledger.ledger.statuses)
    run_id = await trigger(api, keys.run, provider)
    run = await wait_for(api, keys.read, run_id)
    assert run["status"] == "SUCCEEDED", run
    today = datetime.now(UTC).date()
    served = transactions(today - timedelta(days=6), today)
    trino_cursor.execute(
        f"SELECT transaction_id, booked_on, amount_cents, currency, merchant "
        f"FROM iceberg.{namespace}.transactions ORDER BY transaction_id"
    )
    rows = [tuple(row) for row in trino_cursor.fetchall()]
    assert rows == [
        (t["id"], date.fromisoformat(t["booked_on"]), t["amount_cents"], t["currency"],
         t["merchant"]["name"])
        for t in sorted(served, key=lambda t: t["id"])
    ]  # fmt: skip
    # Pages of 4 behind token cursors; every third request was refused with 429 and retried
    # (the driver's sample of the first page, not in the run's counts, may have been one).
    pages = -(-len(served) // 4)
    retries = run["metrics"]["retries"]
    throttled = ledger.ledger.statuses[429] - before.get(429, 0)
    assert retries >= 2 and throttled in (retries, retries + 1)
    assert run["metrics"]["pages"] == pages
    assert run["metrics"]["requests"] == pages + retries
    messages = [e["message"] for e in await events_of(api, keys.read, run_id)]
    assert f"committed {len(served)} row(s) to headwater.{namespace}.transactions" in " ".join(
        messages
    )
