"""Previews: the first rows of a table through Trino, and through the catalog without Trino."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from ingest_setup import polygon_plan, unique_namespace
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.ingest.inputs import RunInputs
from runner.ingest.job import run_plan
from runner.ingest.reporting import PrintReporter
from runner.preview import preview
from standins.polygon.server import RunningSim


def test_trino_and_the_catalog_show_the_same_rows(
    spark: SparkSession,
    sim: RunningSim,
    settings: Settings,
    trino_cursor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", sim.key)
    namespace = unique_namespace()
    plan = polygon_plan(sim.base_url, namespace)
    day = date(2024, 5, 3)
    inputs = RunInputs.for_window(plan, "run-preview", logical_date=day, start=day, end=day)
    run_plan(spark, plan, inputs, PrintReporter(io.StringIO()))
    table = f"{namespace}.stock_daily_bars"
    through_trino = preview(table, settings.preview_config(), limit=3)
    direct = preview(table, settings.preview_config(through_trino=False), limit=3)
    assert len(through_trino) == len(direct) == 3
    key = [(row["ticker"], row["bar_date"]) for row in direct]
    assert sorted(key) == sorted((row["ticker"], row["bar_date"]) for row in through_trino)
    assert {row["run_id"] for row in direct} == {"run-preview"}
    with pytest.raises(ValueError, match=r"namespace\.table"):
        preview("no-dots; DROP", settings.preview_config())
    trino_cursor.execute(f"DROP TABLE iceberg.{table}")
    trino_cursor.fetchall()
