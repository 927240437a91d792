"""The warehouse on the S3 server: Spark writes through S3FileIO, Trino reads the same rows."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from typing import Any

import pytest
from ingest_setup import COLUMNS, expected_rows, polygon_plan, unique_namespace

from headwater.settings import Settings
from runner.ingest.inputs import RunInputs
from runner.ingest.job import run_plan
from runner.ingest.reporting import PrintReporter
from runner.objectstore import ensure_bucket, object_store
from runner.spark_session import spark_session
from standins.polygon.server import RunningSim

DAY = date(2024, 6, 3)


def test_ingest_into_an_s3_warehouse(
    settings: Settings, sim: RunningSim, trino_cursor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", sim.key)
    store = settings.object_store_config()
    client = object_store(store)
    ensure_bucket(client, settings.warehouse_bucket)
    config = dataclasses.replace(
        settings.data_plane_config(), warehouse=f"s3://{settings.warehouse_bucket}/warehouse"
    )
    spark = spark_session(config)
    namespace = unique_namespace()
    plan = polygon_plan(sim.base_url, namespace)
    inputs = RunInputs.for_window(plan, "run-s3", logical_date=DAY, start=DAY, end=DAY)
    result = run_plan(spark, plan, inputs, PrintReporter(io.StringIO()))
    trino_cursor.execute(
        f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY 1, 2"
    )
    assert [tuple(row) for row in trino_cursor.fetchall()] == expected_rows(DAY, DAY, "run-s3")
    # The data files are objects in the bucket, not local files.
    objects = list(
        client.list_objects(
            settings.warehouse_bucket, prefix=f"warehouse/{namespace}", recursive=True
        )
    )
    assert any(o.object_name.endswith(".parquet") for o in objects)
    assert result.rows_written == 5
    trino_cursor.execute(f"DROP TABLE iceberg.{namespace}.stock_daily_bars")
    trino_cursor.fetchall()
