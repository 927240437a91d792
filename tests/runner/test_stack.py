"""The local data plane end to end: Spark writes Iceberg through the JDBC catalog, Trino reads it.

The services are started by the deploy/local scripts (idempotent; a failure to start fails the
run with the script's output). The S3 warehouse test runs first and the local one last, so the
warm session left behind is the default one that later runner tests share.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trino
from minio import Minio
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.config import DataPlaneConfig
from runner.objectstore import ensure_bucket, object_store
from runner.spark_session import spark_session

ROOT = Path(__file__).resolve().parents[2]
STACK = (("postgres.sh", "start"), ("s3.sh", "start"), ("trino.sh", "start"), ("spark.sh",))

SCHEMA = "id BIGINT, ticker STRING, day DATE, close DOUBLE"
FIRST = [
    (1, "AAPL", dt.date(2024, 1, 2), 185.5),
    (2, "MSFT", dt.date(2024, 1, 2), 370.25),
]
# One row updates id 2, one is new: MERGE must do both.
CHANGES = [
    (2, "MSFT", dt.date(2024, 1, 3), 372.75),
    (3, "NVDA", dt.date(2024, 1, 3), 479.5),
]
MERGED = [FIRST[0], *CHANGES]


def _run(script: str, *args: str) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"deploy/local/{script} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The running stack's settings (PostgreSQL, S3 server, Trino, Spark jars), started here."""
    for script, *args in STACK:
        _run(script, *args)
    return Settings()


@pytest.fixture(scope="module")
def namespace(settings: Settings, trino_cursor: Any) -> Iterator[str]:
    """A namespace of this run's own, so concurrent runs on one catalog never collide."""
    name = f"stack_{uuid.uuid4().hex[:10]}"
    yield name
    _trino(trino_cursor, f"DROP SCHEMA IF EXISTS iceberg.{name}")
    # A purge deletes the table's files but leaves the local directories behind.
    shutil.rmtree(settings.var_dir / "warehouse" / name, ignore_errors=True)


@pytest.fixture(scope="module")
def store(settings: Settings) -> Minio:
    return object_store(settings.object_store_config())


@pytest.fixture(scope="module")
def trino_cursor(settings: Settings) -> Iterator[Any]:
    conn = trino.dbapi.connect(
        host="127.0.0.1", port=settings.trino_port, user="headwater", catalog="iceberg"
    )
    yield conn.cursor()
    conn.close()


def _write_and_merge(spark: SparkSession, table: str) -> None:
    spark.sql(f"CREATE TABLE {table} ({SCHEMA}) USING iceberg TBLPROPERTIES ('format-version'='2')")
    spark.createDataFrame(FIRST, SCHEMA).writeTo(table).append()
    view = f"changes_{uuid.uuid4().hex[:8]}"
    spark.createDataFrame(CHANGES, SCHEMA).createOrReplaceTempView(view)
    spark.sql(
        f"MERGE INTO {table} t USING {view} s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    spark.catalog.dropTempView(view)


def _spark_rows(spark: SparkSession, table: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in spark.table(table).orderBy("id").collect()]


def _trino(cursor: Any, sql: str) -> list[list[Any]]:
    cursor.execute(sql)
    rows: list[list[Any]] = cursor.fetchall()
    return rows


def _check_round_trip(spark: SparkSession, cursor: Any, namespace: str, table: str) -> set[str]:
    """Writes, merges and reads back through both engines; returns the data files Trino read."""
    name = f"{namespace}.{table}"
    _write_and_merge(spark, name)
    properties = {
        row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()
    }
    assert properties["format-version"] == "2"
    assert _spark_rows(spark, name) == MERGED

    assert _trino(cursor, f"SELECT id, ticker, day, close FROM {name} ORDER BY id") == [
        list(row) for row in MERGED
    ]
    operations = _trino(cursor, f'SELECT operation FROM "{table}$snapshots" ORDER BY committed_at')
    assert [op for (op,) in operations] == ["append", "overwrite"]
    return {path for (path,) in _trino(cursor, f'SELECT DISTINCT "$path" FROM {name}')}


@pytest.fixture
def drop_after() -> Iterator[list[tuple[SparkSession, str]]]:
    """Tables a test made, purged afterwards by the session whose FileIO wrote them."""
    made: list[tuple[SparkSession, str]] = []
    yield made
    for spark, table in made:
        spark.sql(f"DROP TABLE IF EXISTS {table} PURGE")


def test_s3_warehouse_spark_writes_trino_reads(
    settings: Settings,
    namespace: str,
    store: Minio,
    trino_cursor: Any,
    drop_after: list[tuple[SparkSession, str]],
) -> None:
    config = dataclasses.replace(
        settings.data_plane_config(), warehouse=f"s3://{settings.warehouse_bucket}"
    )
    spark = spark_session(config)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
    drop_after.append((spark, f"{namespace}.bars_s3"))
    trino_cursor.execute(f"USE iceberg.{namespace}")
    trino_cursor.fetchall()

    paths = _check_round_trip(spark, trino_cursor, namespace, "bars_s3")

    assert paths and all(
        p.startswith(f"s3://{settings.warehouse_bucket}/{namespace}/") for p in paths
    )
    objects = {
        o.object_name
        for o in store.list_objects(
            settings.warehouse_bucket, prefix=f"{namespace}/", recursive=True
        )
    }
    assert {p.split("/", 3)[3] for p in paths} <= objects
    assert any(name.endswith(".metadata.json") for name in objects if name is not None)


def test_local_warehouse_spark_writes_trino_reads(
    settings: Settings,
    namespace: str,
    trino_cursor: Any,
    drop_after: list[tuple[SparkSession, str]],
) -> None:
    config: DataPlaneConfig = settings.data_plane_config()
    local = (settings.var_dir / "warehouse").as_uri()
    if config.warehouse != local:
        config = dataclasses.replace(config, warehouse=local)
    spark = spark_session(config)
    assert spark_session(config) is spark
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
    drop_after.append((spark, f"{namespace}.bars_local"))
    trino_cursor.execute(f"USE iceberg.{namespace}")
    trino_cursor.fetchall()

    paths = _check_round_trip(spark, trino_cursor, namespace, "bars_local")

    warehouse_dir = settings.var_dir / "warehouse" / namespace / "bars_local"
    files = [Path(p.removeprefix("file:").removeprefix("//")) for p in paths]
    assert files and all(f.is_file() and f.is_relative_to(warehouse_dir) for f in files)


def test_object_store_round_trip(settings: Settings, store: Minio, namespace: str) -> None:
    assert ensure_bucket(store, settings.raw_bucket) is False  # s3.sh created it
    key = f"{namespace}/page-0001.json"
    body = b'{"results": [{"T": "AAPL", "c": 185.5}]}'
    store.put_object(
        settings.raw_bucket, key, io.BytesIO(body), len(body), content_type="application/json"
    )
    try:
        response = store.get_object(settings.raw_bucket, key)
        try:
            assert response.read() == body
        finally:
            response.close()
            response.release_conn()
        assert store.stat_object(settings.raw_bucket, key).size == len(body)
    finally:
        store.remove_object(settings.raw_bucket, key)
    assert not list(store.list_objects(settings.raw_bucket, prefix=f"{namespace}/"))


def test_ensure_bucket_creates_once(store: Minio, namespace: str) -> None:
    bucket = f"hw-{namespace.replace('_', '-')}"
    try:
        assert ensure_bucket(store, bucket) is True
        assert ensure_bucket(store, bucket) is False
        assert store.bucket_exists(bucket)
    finally:
        store.remove_bucket(bucket)
