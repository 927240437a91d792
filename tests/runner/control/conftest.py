"""Fixtures of the control plane's tests: the whole local stack, the API, workers, both sources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trino
from control_setup import WorkerProcess, start_worker, unique_namespace
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


@pytest.fixture(scope="module")
def worker(
    database_url: str, sim: RunningSim, ledger: ledger_server.RunningLedger, lineage_dir: Path
) -> Iterator[WorkerProcess]:
    """One worker (in process, two slots) for a module's tests."""
    process = start_worker(
        database_url,
        "test-worker",
        POLYGON_API_KEY=sim.key,
        # A key the Polygon server refuses (401), for the terminal-failure tests.
        WRONG_POLYGON_KEY="not-a-polygon-key-0000",
        LEDGER_API_KEY=ledger.key,
        HEADWATER_LINEAGE_DIR=str(lineage_dir),
    )
    yield process
    process.stop()


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
    trino_cursor.execute(f"SHOW SCHEMAS FROM iceberg LIKE '{name}'")
    if not trino_cursor.fetchall():
        return
    trino_cursor.execute(f"SHOW TABLES FROM iceberg.{name}")
    for (table,) in trino_cursor.fetchall():
        trino_cursor.execute(f"DROP TABLE iceberg.{name}.{table}")
        trino_cursor.fetchall()
    trino_cursor.execute(f"DROP SCHEMA IF EXISTS iceberg.{name}")
    trino_cursor.fetchall()
