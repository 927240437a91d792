"""Runs over GraphQL: trigger, backfill, cancel, retry; the listing, detail, logs, dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_client import Api, Keys, spec_for
from tortoise import connections

from api.models import QualityResult, Run

TRIGGER = """mutation($p: ID!, $params: JSON) { triggerRun(providerId: $p, parameters: $params) {
  __typename ... on RunQueued { run { id status trigger attempt windowStart windowEnd logicalDate
                                     parameters providerName } }
  ... on Problem { message } ... on InvalidInput { field } } }"""
LIST = """query($f: RunFilterInput, $s: RunSortInput, $first: Int, $after: String) {
  runs(filter: $f, sort: $s, first: $first, after: $after) {
    edges { cursor node { id status trigger providerName durationMs } }
    pageInfo { hasNextPage endCursor } } }"""


async def provider(api: Api, keys: Keys, **spec: str) -> str:
    data = await api.data(
        "mutation($s: String!) { createProvider(spec: $s) { ... on ProviderSaved { provider { id } } "
        "... on Problem { message } } }",
        {"s": spec_for(**spec)},
        keys.write,
    )
    return str(data["createProvider"]["provider"]["id"])


async def trigger(api: Api, keys: Keys, provider_id: str, **params: str) -> dict[str, Any]:
    data = await api.data(TRIGGER, {"p": provider_id, "params": params or None}, keys.run)
    result: dict[str, Any] = data["triggerRun"]
    return result


async def move(run_id: int | str, *statuses: str, **columns: Any) -> None:
    conn = connections.get("default")
    for status in statuses:
        await conn.execute_query("UPDATE runs SET status = $2 WHERE id = $1", [int(run_id), status])
    for name, value in columns.items():
        await conn.execute_query(f"UPDATE runs SET {name} = $2 WHERE id = $1", [int(run_id), value])


async def test_trigger_queues_a_run_over_the_lookback_window(api: Api, keys: Keys) -> None:
    result = await trigger(api, keys, await provider(api, keys))
    run = result["run"]
    assert (run["status"], run["trigger"], run["attempt"], run["providerName"]) == (
        "QUEUED", "MANUAL", 1, "polygon"
    )  # fmt: skip
    assert run["windowEnd"] == run["logicalDate"]
    stored = await Run.get(id=int(run["id"]))
    assert stored.window_start is not None and stored.window_end is not None
    assert (stored.window_end - stored.window_start).days == 5


async def test_missing_run_parameter_is_refused(api: Api, keys: Keys) -> None:
    pid = await provider(
        api,
        keys,
        **{"        sort: asc\n": '        sort: asc\n        exchange: "{{ exchange }}"\n'},
    )
    refused = await trigger(api, keys, pid)
    assert refused["__typename"] == "InvalidInput"
    assert refused["field"] == "parameters" and "exchange" in refused["message"]
    accepted = await trigger(api, keys, pid, exchange="XNAS")
    assert accepted["run"]["parameters"] == {"exchange": "XNAS"}


async def test_backfill_makes_one_run_per_chunk(api: Api, keys: Keys) -> None:
    pid = await provider(api, keys)
    data = await api.data(
        """mutation($p: ID!) { backfill(providerId: $p, from: "2024-01-01", to: "2024-01-10",
           chunkDays: 3) { __typename ... on BackfillQueued { runs { trigger windowStart windowEnd } } } }""",
        {"p": pid},
        keys.run,
    )
    windows = [(r["windowStart"], r["windowEnd"]) for r in data["backfill"]["runs"]]
    assert windows == [
        ("2024-01-01", "2024-01-03"),
        ("2024-01-04", "2024-01-06"),
        ("2024-01-07", "2024-01-09"),
        ("2024-01-10", "2024-01-10"),
    ]
    assert {r["trigger"] for r in data["backfill"]["runs"]} == {"BACKFILL"}


CANCEL = """mutation($r: ID!) { cancelRun(runId: $r) { __typename
  ... on RunCanceled { run { status } }
  ... on IllegalTransition { currentStatus requested } } }"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [((), "CANCELED"), (("STARTING",), "CANCELING"), (("STARTING", "RUNNING"), "CANCELING")],
)
async def test_cancel(api: Api, keys: Keys, path: tuple[str, ...], expected: str) -> None:
    run = (await trigger(api, keys, await provider(api, keys)))["run"]
    await move(run["id"], *path)
    result = (await api.data(CANCEL, {"r": run["id"]}, keys.run))["cancelRun"]
    assert result == {"__typename": "RunCanceled", "run": {"status": expected}}


async def test_a_finished_run_cannot_be_canceled(api: Api, keys: Keys) -> None:
    run = (await trigger(api, keys, await provider(api, keys)))["run"]
    await move(run["id"], "STARTING", "RUNNING", "SUCCEEDED")
    result = (await api.data(CANCEL, {"r": run["id"]}, keys.run))["cancelRun"]
    assert result == {
        "__typename": "IllegalTransition", "currentStatus": "SUCCEEDED", "requested": "CANCELED"
    }  # fmt: skip
    assert (await Run.get(id=int(run["id"]))).status == "SUCCEEDED"


async def test_retry_links_a_new_attempt(api: Api, keys: Keys) -> None:
    run = (await trigger(api, keys, await provider(api, keys)))["run"]
    retry = """mutation($r: ID!) { retryRun(runId: $r) { __typename
      ... on RunQueued { run { id attempt trigger status parent { id } windowStart } }
      ... on IllegalTransition { currentStatus } } }"""
    early = (await api.data(retry, {"r": run["id"]}, keys.run))["retryRun"]
    assert early == {"__typename": "IllegalTransition", "currentStatus": "QUEUED"}
    await move(run["id"], "STARTING", "FAILED")
    again = (await api.data(retry, {"r": run["id"]}, keys.run))["retryRun"]["run"]
    assert (again["attempt"], again["trigger"], again["status"]) == (2, "RETRY", "QUEUED")
    assert again["parent"] == {"id": run["id"]}
    assert again["windowStart"] == run["windowStart"]


async def test_listing_filters_and_sorts(api: Api, keys: Keys) -> None:
    first, second = await provider(api, keys), await provider(api, keys, name="tiingo")
    ids = [(await trigger(api, keys, pid))["run"]["id"] for pid in (first, first, second, second)]
    await move(
        ids[0], "STARTING", "FAILED", started_at=datetime(2024, 1, 1, tzinfo=UTC), duration_ms=500
    )
    await move(ids[1], "STARTING", "RUNNING", "SUCCEEDED", duration_ms=100)
    await move(ids[2], "STARTING", "RUNNING")

    async def listed(**variables: Any) -> list[str]:
        page = (await api.data(LIST, variables, keys.read))["runs"]
        return [edge["node"]["id"] for edge in page["edges"]]

    assert await listed() == list(reversed(ids))
    assert await listed(f={"statuses": ["FAILED", "QUEUED"]}) == [ids[3], ids[0]]
    assert await listed(f={"providerIds": [second]}) == [ids[3], ids[2]]
    assert await listed(f={"providerIds": [first], "statuses": ["SUCCEEDED"]}) == [ids[1]]
    assert await listed(f={"triggers": ["BACKFILL"]}) == []
    assert await listed(s={"field": "CREATED_AT", "direction": "ASC"}) == ids
    # Duration lists finished runs only (the others have none to sort by).
    assert await listed(s={"field": "DURATION", "direction": "DESC"}) == [ids[0], ids[1]]
    assert await listed(s={"field": "DURATION", "direction": "ASC"}) == [ids[1], ids[0]]
    started = await listed(s={"field": "STARTED_AT", "direction": "DESC"})
    assert started[-1] == ids[0] and set(started) == {ids[0], ids[1], ids[2]}


async def test_keyset_pages_cover_everything_once(api: Api, keys: Keys) -> None:
    pid = await provider(api, keys)
    await _bulk_runs(pid, 57)
    seen: list[str] = []
    after: str | None = None
    while True:
        page = (await api.data(LIST, {"first": 10, "after": after}, keys.read))["runs"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 57
    assert seen == sorted(seen, key=int, reverse=True)


async def test_total_count_is_capped(api: Api, keys: Keys) -> None:
    pid = await provider(api, keys)
    await _bulk_runs(pid, 1003)
    query = (
        "query($f: RunFilterInput) { runs(filter: $f, first: 1) { totalCount totalCountExact } }"
    )
    capped = (await api.data(query, {}, keys.read))["runs"]
    assert capped == {"totalCount": 1000, "totalCountExact": False}
    exact = (await api.data(query, {"f": {"statuses": ["FAILED"]}}, keys.read))["runs"]
    assert exact == {"totalCount": 0, "totalCountExact": True}
    # Several statuses are read as one range each and merged: counted the same way.
    several = {"f": {"statuses": ["QUEUED", "FAILED", "SUCCEEDED"]}}
    merged = (await api.data(query, several, keys.read))["runs"]
    assert merged == {"totalCount": 1000, "totalCountExact": False}


async def _bulk_runs(provider_id: str, count: int) -> None:
    await connections.get("default").execute_query(
        "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, parameters, "
        "created_at, rows_read, rows_written, bytes_read, pages, requests, retries, event_seq) "
        "SELECT 'default', $1, p.current_version_id, 'QUEUED', 'SCHEDULE', 1, '{}', "
        "now() - make_interval(secs => $2 - g), 0, 0, 0, 0, 0, 0, 0 "
        "FROM generate_series(1, $2) g, providers p WHERE p.id = $1",
        [int(provider_id), count],
    )


async def test_detail_metrics_quality_events_and_logs(api: Api, keys: Keys) -> None:
    run = (await trigger(api, keys, await provider(api, keys)))["run"]
    run_id = int(run["id"])
    conn = connections.get("default")
    await move(run_id, "STARTING", "RUNNING")
    for index in range(5):
        await conn.execute_query(
            "INSERT INTO run_events (run_id, seq, kind, level, message) VALUES ($1, NULL, $2, 'INFO', $3)",
            [run_id, "LOG" if index % 2 == 0 else "PROGRESS", f"event {index}"],
        )
    await QualityResult.create(
        run_id=run_id, name="bars.non_empty", kind="non_empty", passed=True, observed=12
    )
    await move(
        run_id, "FAILED", rows_read=12, rows_written=0, pages=3, requests=4, retries=1,
        error_class="QualityFailed", error_message="bars.open.range failed on 2 rows",
    )  # fmt: skip
    detail = await api.data(
        """query($id: ID!) { run(id: $id) { status errorClass errorMessage durationMs
             metrics { rowsRead rowsWritten pages requests retries bytes }
             qualityResults { name passed observed }
             version { number } provider { name }
             events(after: 0, first: 100) { events { seq kind message } lastSeq hasMore } } }""",
        {"id": str(run_id)},
        keys.read,
    )
    found = detail["run"]
    assert found["status"] == "FAILED" and found["errorClass"] == "QualityFailed"
    assert found["errorMessage"] == "bars.open.range failed on 2 rows"
    assert found["metrics"] == {
        "rowsRead": 12, "rowsWritten": 0, "pages": 3, "requests": 4, "retries": 1, "bytes": 0
    }  # fmt: skip
    assert found["qualityResults"] == [{"name": "bars.non_empty", "passed": True, "observed": 12.0}]
    assert (found["version"], found["provider"]) == ({"number": 1}, {"name": "polygon"})
    kinds = [(e["seq"], e["kind"]) for e in found["events"]["events"]]
    assert kinds[:3] == [(1, "STATUS"), (2, "STATUS"), (3, "STATUS")]
    assert kinds[-1] == (9, "STATUS") and found["events"]["lastSeq"] == 9
    logs = await api.data(
        "query($id: ID!) { runLogs(runId: $id, after: 4, first: 1) { events { seq message } lastSeq hasMore } }",
        {"id": str(run_id)},
        keys.read,
    )
    assert logs["runLogs"] == {
        "events": [{"seq": 6, "message": "event 2"}], "lastSeq": 6, "hasMore": True
    }  # fmt: skip


async def test_dashboard(api: Api, keys: Keys) -> None:
    pid = await provider(api, keys)
    ids = [(await trigger(api, keys, pid))["run"]["id"] for _ in range(3)]
    await move(ids[0], "STARTING", "FAILED")
    await move(ids[1], "STARTING", "RUNNING", "SUCCEEDED", rows_written=40)
    data = await api.data(
        """{ dashboard(days: 3) { successRate days { day rowsWritten byStatus { status count } }
             failingProviders { provider { name } failures } } }""",
        key=keys.read,
    )
    board = data["dashboard"]
    assert board["successRate"] == 0.5
    assert len(board["days"]) == 3
    today = board["days"][-1]
    assert today["rowsWritten"] == 40
    assert sorted((s["status"], s["count"]) for s in today["byStatus"]) == [
        ("FAILED", 1), ("QUEUED", 1), ("SUCCEEDED", 1)
    ]  # fmt: skip
    assert board["failingProviders"] == [{"provider": {"name": "polygon"}, "failures": 1}]
