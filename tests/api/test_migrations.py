"""Migrations through `headwater db …`: upgrade from nothing, downgrade the latest step, again.

The commands run as processes: Tortoise's migration runner uses the ORM's global state, which
the test process keeps for its own connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest
from api_client import ROOT

from api import db

TRIGGERS = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
INDEXES = "SELECT indexname FROM pg_indexes WHERE tablename = 'runs' ORDER BY indexname"


@pytest.fixture
async def scratch(postgres: str) -> AsyncIterator[str]:
    name = f"headwater_migrations_{os.getpid()}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def headwater_db(url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "db", *args],
        env={**os.environ, "HEADWATER_DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _names(url: str, query: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(scratch: str) -> None:
    assert headwater_db(scratch, "upgrade") == "database: migrations applied\n"
    triggers = await _names(scratch, TRIGGERS)
    assert triggers == [
        "run_events_notify",
        "run_events_seq",
        "run_events_status_notify",
        "runs_commit_fence",
        "runs_status_event",
        "runs_transition",
    ]
    assert {"runs_schedule_tick_idx", "runs_one_retry_idx"} <= set(await _names(scratch, INDEXES))

    # The latest step (the unique indexes against races) goes; the control plane stays.
    assert db.previous_migration() == "0003_control_plane"
    assert "0003_control_plane" in headwater_db(scratch, "downgrade")
    indexes = await _names(scratch, INDEXES)
    assert "runs_one_retry_idx" not in indexes and "runs_schedule_tick_idx" in indexes

    # Then the control plane's; the state machine of the step before stays.
    downgraded = headwater_db(scratch, "downgrade", "--to", "0002_run_state_machine")
    assert "0002_run_state_machine" in downgraded
    assert await _names(scratch, TRIGGERS) == [
        "run_events_notify",
        "run_events_seq",
        "runs_status_event",
        "runs_transition",
    ]
    assert "runs_schedule_tick_idx" not in await _names(scratch, INDEXES)
    assert "runs_status_created_idx" in await _names(scratch, INDEXES)
    assert "backfills" not in await _names(
        scratch, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert "run_after" not in await _names(
        scratch, "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
    )

    # Down to the first step: no trigger and only the primary key index are left.
    assert "0001_initial" in headwater_db(scratch, "downgrade", "--to", "0001_initial")
    assert await _names(scratch, TRIGGERS) == []
    assert await _names(scratch, INDEXES) == ["runs_pkey"]

    headwater_db(scratch, "upgrade")
    assert await _names(scratch, TRIGGERS) == triggers


async def test_upgrade_is_idempotent(scratch: str) -> None:
    headwater_db(scratch, "upgrade")
    headwater_db(scratch, "upgrade")
    applied = await _names(scratch, "SELECT name FROM tortoise_migrations ORDER BY name")
    assert applied == [
        "0001_initial",
        "0002_run_state_machine",
        "0003_control_plane",
        "0004_races",
    ]
