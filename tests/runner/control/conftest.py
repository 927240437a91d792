"""Fixtures of the control plane's tests: the whole local stack, the API, workers, both sources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trino
from control_setup import WorkerProcess, start_worker, trino_rows, unique_namespace
from db_fixtures import TABLES
from ingest_setup import STACK, run_script

from headwater.settings import Settings
from standins import ledger as ledger_server
from standins.polygon.config import FaultConfig, SimConfig
from standins.polygon.server import RunningSim, start_process


@pytest.fixture(scope="session")
def settings() -> Settings:
    """PostgreSQL, the S3 server, Trino and the Spark jars, started here."""
    for script, *args in STACK:
        run_script(script, *args)
    return Settings()


@pytest.fixture(scope="module")
def sim(settings: Settings) -> Iterator[RunningSim]:
    """The Polygon server in its own process (as the real one is), its faults switchable."""
    with start_process(SimConfig(port=0, control=True)) as running:
        yield running


@pytest.fixture
def faults(sim: RunningSim) -> Iterator[RunningSim]:
    """The Polygon server, its faults switched off again after the test."""
    yield sim
    sim.set_faults(FaultConfig())


@pytest.fixture(scope="module")
def ledger() -> Iterator[ledger_server.RunningLedger]:
    with ledger_server.serve_in_thread(ledger_server.Ledger(throttle_every=3)) as running:
        yield running


@pytest.fixture(scope="module")
def lineage_dir(tmp_path_factory: Any) -> Path:
    """Where the module's worker writes lineage (a file per run, DataHub's file format)."""
    path: Path = tmp_path_factory.mktemp("lineage")
    return path


async def _runs_settle(database_url: str) -> None:
    """No run left for the next test: queued ones canceled, active ones given time to end.

    Tests empty the tables and restart the ids; a worker still holding a run of an earlier
    test would otherwise end that run on a newer one that got its id.
    """
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE runs SET status = 'CANCELED' WHERE status = 'QUEUED'")
        deadline = time.monotonic() + 60
        while await conn.fetchval(
            "SELECT count(*) FROM runs WHERE status IN ('STARTING', 'RUNNING', 'CANCELING')"
        ):
            if time.monotonic() > deadline:
                pytest.fail("a run of this test is still active a minute after it")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
async def runs_settle(database_url: str) -> AsyncIterator[None]:
    yield
    await _runs_settle(database_url)


@pytest.fixture(scope="module")
def worker(
    database_url: str, sim: RunningSim, ledger: ledger_server.RunningLedger, lineage_dir: Path
) -> Iterator[WorkerProcess]:
    """One worker (in process, two slots) for a module's tests, on tables with no run."""
    asyncio.run(_truncate(database_url))
    process = start_worker(
        database_url,
        "test-worker",
        POLYGON_API_KEY=sim.key,
        # A key the Polygon server refuses (401), for the terminal-failure tests.
        HEADWATER_SECRET_WRONG_POLYGON_KEY="not-a-polygon-key-0000",
        LEDGER_API_KEY=ledger.key,
        HEADWATER_LINEAGE_DIR=str(lineage_dir),
    )
    yield process
    process.stop()


async def _truncate(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def trino_cursor(settings: Settings) -> Any:
    connection = trino.dbapi.connect(
        host="127.0.0.1", port=settings.trino_port, user="tests", catalog="iceberg"
    )
    return connection.cursor()


@pytest.fixture
def namespace(trino_cursor: Any) -> Iterator[str]:
    """An Iceberg namespace of one test, dropped with its tables after it."""
    name = unique_namespace()
    yield name
    if not trino_rows(trino_cursor, f"SHOW SCHEMAS FROM iceberg LIKE '{name}'"):
        return
    for (table,) in trino_rows(trino_cursor, f"SHOW TABLES FROM iceberg.{name}"):
        trino_rows(trino_cursor, f"DROP TABLE iceberg.{name}.{table}")
    trino_rows(trino_cursor, f"DROP SCHEMA IF EXISTS iceberg.{name}")
