"""The run state machine, enforced by PostgreSQL: every pair of statuses, table-driven."""

from __future__ import annotations

import asyncio
import itertools
import json

import asyncpg
import pytest
from tortoise import connections

from api import sql
from api.models import Provider, Run, RunStatus, RunTrigger, SpecVersion
from api.models.states import TERMINAL, TRANSITIONS, allowed

# Reaching a status from QUEUED along legal moves, to set up each "from" state.
PATHS: dict[RunStatus, list[RunStatus]] = {
    RunStatus.QUEUED: [],
    RunStatus.STARTING: [RunStatus.STARTING],
    RunStatus.RUNNING: [RunStatus.STARTING, RunStatus.RUNNING],
    RunStatus.CANCELING: [RunStatus.STARTING, RunStatus.CANCELING],
    RunStatus.SUCCEEDED: [RunStatus.STARTING, RunStatus.RUNNING, RunStatus.SUCCEEDED],
    RunStatus.FAILED: [RunStatus.STARTING, RunStatus.FAILED],
    RunStatus.CANCELED: [RunStatus.CANCELED],
}


async def new_run() -> Run:
    provider = await Provider.create(
        tenant_id="default", name="p", display_name="P", owner="o", engine="spark"
    )
    version = await SpecVersion.create(
        provider=provider, number=1, spec_text="x", spec_parsed={}, engine="spark", author="t"
    )
    return await Run.create(
        tenant_id="default", provider=provider, version=version, trigger=RunTrigger.MANUAL
    )


async def move(run_id: int, status: RunStatus) -> None:
    await connections.get("default").execute_query(
        "UPDATE runs SET status = $2 WHERE id = $1", [run_id, status.value]
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a, b in itertools.product(RunStatus, RunStatus) if a != b],
    ids=lambda s: s.value,
)
async def test_every_transition(clean: str, current: RunStatus, target: RunStatus) -> None:
    run = await new_run()
    for step in PATHS[current]:
        await move(run.id, step)
    if allowed(current, target):
        await move(run.id, target)
        assert (await Run.get(id=run.id)).status is target
    else:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - checked by SQLSTATE below
            await move(run.id, target)
        assert sql.sqlstate(raised.value) == "HW001"
        assert f"{current.value} -> {target.value}" in str(raised.value)
        assert (await Run.get(id=run.id)).status is current


def test_terminal_states_have_no_way_out() -> None:
    assert {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED} == TERMINAL
    assert all(not TRANSITIONS[status] for status in TERMINAL)


async def test_runs_are_created_queued(clean: str) -> None:
    run = await new_run()
    with pytest.raises(Exception) as raised:  # noqa: PT011 - checked by SQLSTATE below
        await connections.get("default").execute_query(
            "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, "
            "parameters, created_at, rows_read, rows_written, bytes_read, pages, requests, "
            "retries, event_seq) SELECT tenant_id, provider_id, version_id, 'RUNNING', trigger, "
            "1, '{}', now(), 0, 0, 0, 0, 0, 0, 0 FROM runs WHERE id = $1",
            [run.id],
        )
    assert sql.sqlstate(raised.value) == "HW001"


async def test_times_and_duration_are_stamped(clean: str) -> None:
    run = await new_run()
    for step in PATHS[RunStatus.SUCCEEDED]:
        await move(run.id, step)
    done = await Run.get(id=run.id)
    assert done.started_at is not None and done.finished_at is not None
    assert done.duration_ms is not None and done.duration_ms >= 0
    assert done.lease_owner is None


async def test_events_are_numbered_in_order(clean: str) -> None:
    run = await new_run()
    conn = connections.get("default")
    await move(run.id, RunStatus.STARTING)
    for text in ("one", "two"):
        await conn.execute_query(
            "INSERT INTO run_events (run_id, seq, kind, level, message) "
            "VALUES ($1, NULL, 'LOG', 'INFO', $2)",
            [run.id, text],
        )
    await move(run.id, RunStatus.RUNNING)
    rows = await conn.execute_query_dict(
        "SELECT seq, kind, message FROM run_events WHERE run_id = $1 ORDER BY seq", [run.id]
    )
    assert [(r["seq"], r["kind"], r["message"]) for r in rows] == [
        (1, "STATUS", "QUEUED"),
        (2, "STATUS", "QUEUED -> STARTING"),
        (3, "LOG", "one"),
        (4, "LOG", "two"),
        (5, "STATUS", "STARTING -> RUNNING"),
    ]


async def test_every_event_is_announced(clean: str, orm: str) -> None:
    listener = await asyncpg.connect(orm)
    heard: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await listener.add_listener(
        "headwater_run_events", lambda *args: heard.put_nowait(json.loads(args[3]))
    )
    try:
        run = await new_run()
        await connections.get("default").execute_query(
            "INSERT INTO run_events (run_id, seq, kind, level, message, payload) "
            "VALUES ($1, NULL, 'PROGRESS', 'INFO', $2, $3)",
            [run.id, "x" * 5000, json.dumps({"pages": 3})],
        )
        first = await asyncio.wait_for(heard.get(), 5)
        second = await asyncio.wait_for(heard.get(), 5)
    finally:
        await listener.close()
    assert (first["kind"], first["seq"], first["run_id"]) == ("STATUS", 1, run.id)
    assert first["payload"] == {
        "from": None, "to": "QUEUED", "provider_id": run.provider_id,  # type: ignore[attr-defined]
        "tenant_id": "default", "trigger": "MANUAL", "error_class": None,
    }  # fmt: skip
    # Long messages are cut to fit NOTIFY's 8000 bytes, and marked so.
    assert second["kind"] == "PROGRESS" and second["truncated"] is True
    assert len(str(second["message"])) == 2000
