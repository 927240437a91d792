"""A run with raw landing and lineage on: its pages in the raw bucket, its lineage in the file."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ingest_setup import TICKERS, polygon_plan, unique_namespace
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, run_plan
from runner.ingest.landing import LandingConfig, replay
from runner.ingest.lineage import LineageConfig
from runner.ingest.reporting import PrintReporter
from standins.polygon.server import RunningSim

DAY = date(2024, 7, 1)


def test_pages_land_raw_and_lineage_is_written(
    spark: SparkSession,
    sim: RunningSim,
    settings: Settings,
    tmp_path: Path,
    trino_cursor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", sim.key)
    namespace = unique_namespace()
    plan = polygon_plan(sim.base_url, namespace)
    landing = LandingConfig(settings.raw_bucket, settings.object_store_config())
    lineage = LineageConfig(folder=tmp_path)
    config = JobConfig(landing=landing, lineage=lineage)
    inputs = RunInputs.for_window(plan, f"run-{namespace}", logical_date=DAY, start=DAY, end=DAY)
    lineage_file = lineage.run_file(inputs.run_id)
    result = run_plan(spark, plan, inputs, PrintReporter(io.StringIO()), config)

    pages = list(replay(landing, "polygon", inputs.run_id))
    assert len(pages) == len(TICKERS) == result.stats.pages
    bodies = [json.loads(page[3]) for page in pages]
    assert sorted(body["ticker"] for body in bodies) == sorted(TICKERS)
    assert sum(body["resultsCount"] for body in bodies) == result.rows_read
    assert sim.key not in "".join(page[3].decode() for page in pages)

    proposals = json.loads(lineage_file.read_text())
    urns = {proposal["entityUrn"] for proposal in proposals}
    table_urn = f"urn:li:dataset:(urn:li:dataPlatform:iceberg,{namespace}.stock_daily_bars,PROD)"
    assert table_urn in urns
    assert "urn:li:dataset:(urn:li:dataPlatform:rest,polygon.daily_bars,PROD)" in urns
    schema = next(
        p for p in proposals if p["entityUrn"] == table_urn and p["aspectName"] == "schemaMetadata"
    )
    assert "ticker" in json.dumps(schema)
    assert sim.key not in lineage_file.read_text()
    trino_cursor.execute(f"DROP TABLE iceberg.{namespace}.stock_daily_bars")
    trino_cursor.fetchall()
