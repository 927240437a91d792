"""Migrations: upgrade from nothing, downgrade the latest step, upgrade again."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

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


async def _names(url: str, query: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(scratch: str) -> None:
    await db.upgrade(scratch)
    triggers = await _names(scratch, TRIGGERS)
    assert triggers == [
        "run_events_notify",
        "run_events_seq",
        "runs_status_event",
        "runs_transition",
    ]
    assert "runs_status_created_idx" in await _names(scratch, INDEXES)

    assert db.previous_migration() == "0001_initial"
    await db.downgrade(scratch, db.previous_migration())
    assert await _names(scratch, TRIGGERS) == []
    assert await _names(scratch, INDEXES) == ["runs_pkey"]
    # The tables of the first step are still there.
    assert "runs" in await _names(
        scratch, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )

    await db.upgrade(scratch)
    assert await _names(scratch, TRIGGERS) == triggers


async def test_upgrade_is_idempotent(scratch: str) -> None:
    await db.upgrade(scratch)
    await db.upgrade(scratch)
    applied = await _names(scratch, "SELECT name FROM tortoise_migrations ORDER BY name")
    assert applied == ["0001_initial", "0002_run_state_machine"]
