"""Fixtures of the API tests: the real PostgreSQL, a fresh migrated database, a real server.

The local server is started by deploy/local/postgres.sh (idempotent); a test run gets its own
database, migrated with the project's migrations, and dropped at the end. Tables are emptied
before each test that asks for `clean`. The API runs as a real `headwater api` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO

import asyncpg
import httpx
import pytest
from api_client import ROOT, Api, Keys, free_port
from tortoise import Tortoise, connections

from api import db
from api.auth import create_key
from api.models import Scope

PG_PORT = int(os.environ.get("HEADWATER_PG_PORT", "54329"))
TABLES = "audit_log, api_keys, quality_results, run_events, runs, spec_versions, providers"


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


@dataclass
class Server:
    """A `headwater api` process, its client, and its log file."""

    process: subprocess.Popen[bytes]
    api: Api
    log: IO[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_server(database_url: str, **env: str) -> Server:
    """`headwater api` on a free loopback port, waiting until it is ready."""
    port = free_port()
    environment = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_LOG_LEVEL": "WARNING",
        **env,
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / f"test-api-{port}.log", "wb")  # noqa: SIM115 - Server.stop closes it
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "api", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(process, Api(f"http://127.0.0.1:{port}"), log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise AssertionError(f"the API exited with {process.returncode}; see {log.name}")
        try:
            # Another session's server may hold the port we were given: insist on our pid.
            health = httpx.get(f"{server.api.base_url}/healthz", timeout=1).json()
            ready = httpx.get(f"{server.api.base_url}/readyz", timeout=1).status_code == 200
            if health.get("pid") == process.pid and ready:
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the API did not become ready in 30 s; see {log.name}")


@pytest.fixture(scope="session")
def api(database_url: str) -> Iterator[Api]:
    """The API server every HTTP and websocket test talks to."""
    server = start_server(database_url)
    yield server.api
    server.stop()
