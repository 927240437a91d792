"""Races the database settles: concurrent creates of one provider name, concurrent retries of one
run, and a cancel written together with its audit entry."""

from __future__ import annotations

import asyncio

from api_client import Api, Keys, spec_for
from tortoise import connections

CREATE = """mutation($spec: String!) { createProvider(spec: $spec) {
  __typename ... on ProviderSaved { provider { id } } ... on Problem { message } } }"""
TRIGGER = """mutation($p: ID!) { triggerRun(providerId: $p) {
  ... on RunQueued { run { id } } } }"""
RETRY = """mutation($r: ID!) { retryRun(runId: $r) { __typename
  ... on RunQueued { run { id attempt } } ... on Problem { message } } }"""
CANCEL = """mutation($r: ID!) { cancelRun(runId: $r) { __typename } }"""
CALLS = 8


async def _provider(api: Api, keys: Keys) -> str:
    saved = (await api.data(CREATE, {"spec": spec_for()}, keys.write))["createProvider"]
    return str(saved["provider"]["id"])


async def test_concurrent_creates_of_one_name_give_one_provider(api: Api, keys: Keys) -> None:
    text = spec_for(name="raced")
    answers = await asyncio.gather(
        *(api.data(CREATE, {"spec": text}, keys.write) for _ in range(CALLS))
    )
    kinds = sorted(answer["createProvider"]["__typename"] for answer in answers)
    assert kinds == ["Conflict"] * (CALLS - 1) + ["ProviderSaved"]
    conflict = next(a for a in answers if a["createProvider"]["__typename"] == "Conflict")
    assert "already has a provider named `raced`" in conflict["createProvider"]["message"]
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM providers WHERE name = 'raced' AND deleted_at IS NULL"
    )
    assert rows[0]["n"] == 1


async def test_concurrent_retries_of_one_run_make_one_attempt(api: Api, keys: Keys) -> None:
    run = (await api.data(TRIGGER, {"p": await _provider(api, keys)}, keys.run))["triggerRun"]
    run_id = int(run["run"]["id"])
    conn = connections.get("default")
    for status in ("STARTING", "FAILED"):
        await conn.execute_query("UPDATE runs SET status = $2 WHERE id = $1", [run_id, status])
    answers = await asyncio.gather(
        *(api.data(RETRY, {"r": str(run_id)}, keys.run) for _ in range(CALLS))
    )
    kinds = sorted(answer["retryRun"]["__typename"] for answer in answers)
    assert kinds == ["Conflict"] * (CALLS - 1) + ["RunQueued"]
    children = await conn.execute_query_dict("SELECT id FROM runs WHERE parent_id = $1", [run_id])
    assert len(children) == 1
    # A later retry of the same run names the attempt to retry instead.
    late = (await api.data(RETRY, {"r": str(run_id)}, keys.run))["retryRun"]
    assert late["__typename"] == "Conflict"
    assert f"already retried as run {children[0]['id']}" in late["message"]


async def test_a_cancel_and_its_audit_entry_are_one_transaction(api: Api, keys: Keys) -> None:
    run = (await api.data(TRIGGER, {"p": await _provider(api, keys)}, keys.run))["triggerRun"]
    run_id = run["run"]["id"]
    assert (await api.data(CANCEL, {"r": run_id}, keys.run))["cancelRun"]["__typename"] == (
        "RunCanceled"
    )
    conn = connections.get("default")
    # Rows written by one transaction carry its id as xmin.
    moved = await conn.execute_query_dict(
        "SELECT xmin::text AS tx FROM runs WHERE id = $1", [int(run_id)]
    )
    audited = await conn.execute_query_dict(
        "SELECT xmin::text AS tx FROM audit_log WHERE action = 'run.cancel' AND target_id = $1",
        [run_id],
    )
    assert [row["tx"] for row in audited] == [moved[0]["tx"]]
