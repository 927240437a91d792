"""Fixtures of every test that needs the database: the real PostgreSQL, a fresh migrated
database, a real API server. A pytest plugin (`-p db_fixtures` in pyproject.toml), so each is
defined once for the whole session, whichever folders use it.

The local server is started by deploy/local/postgres.sh (idempotent); a test run gets its own
database, migrated with the project's migrations, and dropped at the end. Tables are emptied
before each test that asks for `clean`. The API runs as a real `headwater api` process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from api_client import ROOT, Api, Keys, start_server
from tortoise import Tortoise, connections

from api import db
from api.auth import create_key
from api.models import Scope

PG_PORT = int(os.environ.get("HEADWATER_PG_PORT", "54329"))
TABLES = (
    "audit_log, api_keys, quality_results, run_events, runs, backfills, spec_versions, providers"
)


def _admin_url(database: str = "postgres") -> str:
    return f"postgres://headwater@127.0.0.1:{PG_PORT}/{database}"


@pytest.fixture(scope="session")
def postgres() -> str:
    """The local server, started if it is not running (a failure to start fails loudly)."""
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "postgres.sh"), "start"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"the local PostgreSQL did not start:\n{done.stdout}\n{done.stderr}")
    return _admin_url()


@pytest.fixture(scope="session")
async def database_url(postgres: str) -> AsyncIterator[str]:
    """A new database for this test session, with every migration applied."""
    name = f"headwater_test_{os.getpid()}"
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _admin_url(name)
    await db.upgrade(url)
    yield url
    await Tortoise.close_connections()
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def orm(database_url: str) -> AsyncIterator[str]:
    """The ORM of the test process, on the test database."""
    await Tortoise.init(
        config=db.tortoise_config(database_url, pool_size=5), _enable_global_fallback=True
    )
    yield database_url
    await Tortoise.close_connections()


@pytest.fixture
async def clean(orm: str) -> str:
    """Empty tables (and restarted ids) for one test."""
    await connections.get("default").execute_script(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return orm


@pytest.fixture
async def keys(clean: str) -> Keys:
    async def token(name: str, scope: Scope, tenant: str | None = None) -> str:
        return (await create_key(name, [scope], tenant_id=tenant, created_by="tests")).token

    return Keys(
        read=await token("reader", Scope.READ),
        run=await token("runner", Scope.RUN),
        write=await token("writer", Scope.WRITE),
        admin=await token("admin", Scope.ADMIN),
        other_admin=await token("other-admin", Scope.ADMIN, "other"),
        tenant_admin=await token("tenant-admin", Scope.ADMIN, "default"),
    )


@pytest.fixture(scope="session")
def api(database_url: str) -> Iterator[Api]:
    """The API server every HTTP and websocket test talks to."""
    server = start_server(database_url)
    yield server.api
    server.stop()
