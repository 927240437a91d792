"""The run queue on the real database: claims, leases, the reaper and the retry rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from api_client import Api, Keys, spec_for
from control_setup import create_provider, trigger

from api.models.enums import RunStatus
from runner.control import queue
from runner.control.queue import Ending

#: The Polygon example merges; this one appends (a retry skips a sink its run committed).
APPENDING = {
    "write_mode: merge": "write_mode: append",
    "        primary_key: [ticker, bar_date]\n": "",
}
#: And this one appends Parquet files, which carry no run id (a retry would duplicate them).
FILES = {
    "    - type: iceberg\n      table_name: market_data.stock_daily_bars\n": (
        "    - type: parquet\n"
    ),
    '      partition_by: ["months(bar_date)"]\n': "",
    "        write_mode: merge\n        primary_key: [ticker, bar_date]\n        format-version: 2\n": (
        "        path: bars\n"
    ),
}
QUICK = {"backoff_seconds: 60": "backoff_seconds: 1"}


@pytest.fixture
async def pool(clean: str) -> AsyncIterator[asyncpg.Pool]:
    found = await asyncpg.create_pool(clean, min_size=1, max_size=4)
    assert found is not None
    yield found
    # These tests hold runs as a worker would, without one: end what they held.
    await found.execute(
        "UPDATE runs SET status = CASE WHEN status = 'CANCELING' THEN 'CANCELED' "
        "ELSE 'FAILED' END WHERE status IN ('STARTING', 'RUNNING', 'CANCELING')"
    )
    await found.close()


async def queued(api: Api, keys: Keys, count: int, **replace: str) -> list[int]:
    provider = await create_provider(api, keys.admin, spec_for(**QUICK, **replace))
    return [int(await trigger(api, keys.run, provider)) for _ in range(count)]


async def test_two_workers_claiming_at_once_never_take_one_run_twice(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    runs = await queued(api, keys, 20)
    claims = await asyncio.gather(*(queue.claim(pool, f"worker-{n % 2}", 3, 30) for n in range(10)))
    taken = [run.id for claim in claims for run in claim]
    assert sorted(taken) == runs
    assert len(set(taken)) == len(taken)


async def test_a_lease_is_renewed_only_for_tracked_runs_and_the_rest_is_reaped(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    await queued(api, keys, 2)
    tracked, lost = (run.id for run in await queue.claim(pool, "me", 2, 0.5))
    assert await queue.renew(pool, "me", 30, [tracked]) == {tracked: RunStatus.STARTING}
    await asyncio.sleep(0.6)
    # This worker's own run that it no longer executes is reaped like a dead worker's.
    reaped = await queue.reap(pool, [tracked])
    assert [(r.id, r.status) for r in reaped] == [(lost, RunStatus.FAILED)]
    assert reaped[0].retry_id is not None
    row = await pool.fetchrow("SELECT error_class, lease_owner FROM runs WHERE id = $1", lost)
    assert (row["error_class"], row["lease_owner"]) == ("worker_lost", None)
    assert await queue.reap(pool, [tracked]) == []


async def _failed(pool: asyncpg.Pool, run_id: int, error_class: str) -> int | None:
    ended = await queue.finish(
        pool, run_id, "me", Ending(RunStatus.FAILED, error_class, "it failed")
    )
    assert ended is not None and ended.status is RunStatus.FAILED
    return ended.retry_id


async def test_retries_follow_the_failure_and_what_was_committed(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    merging = await queued(api, keys, 3)
    appending = await queued(api, keys, 1, **APPENDING, **{"  name: polygon\n": "  name: app\n"})
    files = await queued(api, keys, 1, **FILES, **{"  name: polygon\n": "  name: files\n"})
    claimed = {run.id for run in await queue.claim(pool, "me", 10, 30)}
    assert claimed == {*merging, *appending, *files}
    for run_id in claimed:
        await queue.start_running(pool, run_id, "me")
    assert await _failed(pool, merging[0], "http_transient") is not None
    assert await _failed(pool, merging[1], "http_terminal") is None
    # A run that had begun to commit: retried when its sinks merge or are Iceberg's (a retry
    # skips what its run committed), not when it appends files.
    assert await queue.begin_commit(pool, merging[2], "me")
    assert await _failed(pool, merging[2], "platform_unavailable") is not None
    assert await queue.begin_commit(pool, appending[0], "me")
    assert await _failed(pool, appending[0], "platform_unavailable") is not None
    assert await queue.begin_commit(pool, files[0], "me")
    assert await _failed(pool, files[0], "platform_unavailable") is None
    retry = await pool.fetchrow(
        "SELECT attempt, parent_id, trigger, run_after > now() AS waits FROM runs "
        "WHERE parent_id = $1",
        merging[0],
    )
    assert dict(retry) == {"attempt": 2, "parent_id": merging[0], "trigger": "RETRY", "waits": True}


async def test_a_committing_run_cannot_be_canceled_and_a_cancel_twice_waits(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    first, second = await queued(api, keys, 2)
    await queue.claim(pool, "me", 2, 30)
    for run_id in (first, second):
        await queue.start_running(pool, run_id, "me")
    assert await queue.begin_commit(pool, first, "me")
    cancel = """mutation($id: ID!) { cancelRun(runId: $id) { __typename
      ... on RunCanceled { run { status } } ... on IllegalTransition { message } } }"""
    refused = (await api.data(cancel, {"id": str(first)}, keys.run))["cancelRun"]
    assert refused["__typename"] == "IllegalTransition"
    assert "committing its data" in refused["message"]
    for _ in range(2):
        again = (await api.data(cancel, {"id": str(second)}, keys.run))["cancelRun"]
        # The second cancel leaves the run to its worker, which ends it when its job stopped.
        assert again == {"__typename": "RunCanceled", "run": {"status": "CANCELING"}}
    # And the fence refuses a run being canceled.
    assert not await queue.begin_commit(pool, second, "me")


async def test_a_canceled_backfill_gets_no_retry_and_its_cap_holds_per_provider(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    provider = await create_provider(api, keys.admin, spec_for(**QUICK))
    backfill = """mutation($p: ID!, $from: Date!, $to: Date!) {
      backfill(providerId: $p, from: $from, to: $to, maxConcurrency: 1) {
        ... on BackfillQueued { backfill { id } runs { id } } } }"""
    groups = [
        (await api.data(backfill, {"p": provider, "from": day, "to": day2}, keys.run))["backfill"]
        for day, day2 in (("2024-01-01", "2024-01-02"), ("2024-02-01", "2024-02-02"))
    ]
    # Two backfills of one provider, each capped at 1: one chunk at a time for the provider.
    taken = await queue.claim(pool, "me", 5, 30)
    assert [run.id for run in taken] == [int(groups[0]["runs"][0]["id"])]
    assert await queue.claim(pool, "me", 5, 30) == []
    first = taken[0].id
    await queue.start_running(pool, first, "me")
    retry = await _failed(pool, first, "http_transient")
    assert retry is not None
    # The retry waits out its backoff and the chunk after it waits for it; the provider's
    # other backfill takes the slot meanwhile.
    assert [run.id for run in await queue.claim(pool, "me", 5, 30)] == [
        int(groups[1]["runs"][0]["id"])
    ]
    cancel = "mutation($id: ID!) { cancelBackfill(id: $id) { __typename } }"
    await api.data(cancel, {"id": groups[0]["backfill"]["id"]}, keys.run)
    statuses = await pool.fetch(
        "SELECT status FROM runs WHERE backfill_id = $1 ORDER BY id",
        int(groups[0]["backfill"]["id"]),
    )
    assert [row["status"] for row in statuses] == ["FAILED", "CANCELED", "CANCELED"]
    other = int(groups[1]["runs"][0]["id"])
    await queue.start_running(pool, other, "me")
    await api.data(cancel, {"id": groups[1]["backfill"]["id"]}, keys.run)
    ended = await queue.finish(
        pool, other, "me", Ending(RunStatus.FAILED, "http_transient", "it failed")
    )
    # Canceled while it ran: it ends CANCELED, and nothing is queued after it.
    assert ended is not None and (ended.status, ended.retry_id) == (RunStatus.CANCELED, None)


async def test_a_lost_chunk_of_a_canceled_backfill_is_not_retried(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    provider = await create_provider(api, keys.admin, spec_for(**QUICK))
    backfill = """mutation($p: ID!) {
      backfill(providerId: $p, from: "2024-01-01", to: "2024-01-01") {
        ... on BackfillQueued { backfill { id } } } }"""
    group = (await api.data(backfill, {"p": provider}, keys.run))["backfill"]["backfill"]["id"]
    (chunk,) = await queue.claim(pool, "dying", 1, 0.5)
    await queue.start_running(pool, chunk.id, "dying")
    assert await queue.begin_commit(pool, chunk.id, "dying")
    # The cancel leaves a committing chunk alone; then its worker dies.
    await api.data("mutation($id: ID!) { cancelBackfill(id: $id) { __typename } }",
                   {"id": group}, keys.run)  # fmt: skip
    await asyncio.sleep(0.6)
    (reaped,) = await queue.reap(pool, [])
    assert (reaped.id, reaped.status, reaped.retry_id) == (chunk.id, RunStatus.FAILED, None)


async def test_a_retry_is_claimed_with_its_earlier_attempts_newest_first(
    api: Api, keys: Keys, pool: asyncpg.Pool
) -> None:
    (first,) = await queued(api, keys, 1)
    chain = [first]
    for _ in range(2):
        (claimed,) = await queue.claim(pool, "me", 1, 30)
        assert claimed.id == chain[-1]
        assert claimed.earlier_attempts == tuple(reversed(chain[:-1]))
        await queue.start_running(pool, claimed.id, "me")
        retry = await _failed(pool, claimed.id, "http_transient")
        assert retry is not None
        # Claimable now, not after its backoff.
        await pool.execute("UPDATE runs SET run_after = NULL WHERE id = $1", retry)
        chain.append(retry)
    (third,) = await queue.claim(pool, "me", 1, 30)
    assert (third.id, third.attempt, third.earlier_attempts) == (chain[2], 3, (chain[1], first))
