"""Fixtures of the ingest tests (and of the attack suite, tests/security): the running stack, one
warm Spark session, the Polygon server and our paged JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trino
from ingest_setup import STACK, run_script
from paged_api import PagedApi, RunningApi, item, serve_in_thread
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.spark_session import spark_session
from standins.polygon.config import SimConfig
from standins.polygon.server import RunningSim, start_in_thread


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The stack this package needs (PostgreSQL, S3, Trino, the Spark jars), started here."""
    for script, *args in STACK:
        run_script(script, *args)
    return Settings()


@pytest.fixture
def spark(settings: Settings) -> SparkSession:
    """The warm default session (rebuilt only if a test switched to another configuration)."""
    return spark_session(settings.data_plane_config())


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    with start_in_thread(SimConfig(port=0, control=True)) as running:
        yield running


@pytest.fixture(scope="session")
def trino_cursor(settings: Settings) -> Any:
    connection = trino.dbapi.connect(
        host="127.0.0.1", port=settings.trino_port, user="tests", catalog="iceberg"
    )
    return connection.cursor()


@pytest.fixture(scope="module")
def paged() -> Iterator[RunningApi]:
    """Our paged JSON API (paged_api.py), one server per test module."""
    with serve_in_thread(PagedApi()) as server:
        yield server


@pytest.fixture
def api(paged: RunningApi) -> RunningApi:
    """The paged API with no request seen, no script, and records 0..4."""
    paged.api.reset()
    paged.api.records = [item(i) for i in range(5)]
    return paged
