"""Parquet sinks through the ingest job: append, overwrite of partitions, and what is refused."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from paged_api import RunningApi, items_plan
from pyspark.sql import SparkSession

from runner.ingest.exceptions import TerminalError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.lineage import LineageConfig
from runner.ingest.reporting import PrintReporter
from uis_compiler.grants import Grants


@pytest.fixture
def grants(tmp_path: Path) -> Grants:
    """The test's folder (and an S3 bucket) as the tenant's file roots."""
    return Grants().with_tenant("default", file_roots=(str(tmp_path), "s3://bucket"))


def ingest(
    spark: SparkSession,
    api: RunningApi,
    sink: dict[str, Any],
    run_id: str,
    grants: Grants,
    config: JobConfig | None = None,
) -> RunResult:
    plan = items_plan(api.base_url, sink, grants)
    inputs = RunInputs.for_window(plan, run_id, logical_date=date(2024, 6, 3))
    job = dataclasses.replace(config or JobConfig(), grants=grants)
    return run_plan(spark, plan, inputs, PrintReporter(io.StringIO()), job)


def parquet(path: Path, **config: Any) -> dict[str, Any]:
    return {"type": "parquet", "config": {"path": str(path), **config}}


def rows(spark: SparkSession, path: Path) -> list[tuple[int, str]]:
    frame = spark.read.parquet(str(path)).orderBy("id", "name")
    return [(row.id, row.name) for row in frame.collect()]


def test_appends_add_files_and_rows(
    spark: SparkSession, api: RunningApi, tmp_path: Path, grants: Grants
) -> None:
    folder = tmp_path / "items"
    lineage_config = LineageConfig(folder=tmp_path / "lineage")
    lineage = lineage_config.run_file("run-1")
    config = JobConfig(lineage=lineage_config)
    first = ingest(spark, api, parquet(folder), "run-1", grants, config)
    assert first.rows_written == 5
    assert first.written[0].platform == "file"
    # The folder is the run's output in DataHub, a `file` dataset with the rows' schema.
    urn = f"urn:li:dataset:(urn:li:dataPlatform:file,{folder},PROD)"
    aspects = {
        record["aspectName"]: record["aspect"]["json"]
        for record in json.loads(lineage.read_text())
        if record["entityUrn"] == urn
    }
    fields = aspects["schemaMetadata"]["fields"]
    assert [(f["fieldPath"], f["nativeDataType"]) for f in fields] == [
        ("id", "bigint"),
        ("name", "string"),
    ]
    ingest(spark, api, parquet(folder), "run-2", grants)
    assert rows(spark, folder) == sorted([(i, f"item-{i}") for i in range(5)] * 2)


def test_overwriting_partitions_replaces_the_runs_partitions_only(
    spark: SparkSession, api: RunningApi, tmp_path: Path, grants: Grants
) -> None:
    folder = tmp_path / "items"
    # Another partition, written before: the run's rows do not fall in it, so it stays.
    spark.createDataFrame([(99, "other")], "id long, name string").write.partitionBy(
        "name"
    ).parquet(str(folder))
    sink = {**parquet(folder, write_mode="overwrite_partitions"), "partition_by": ["name"]}
    for run in ("run-1", "run-2"):
        assert ingest(spark, api, sink, run, grants).rows_written == 5
    assert sorted((folder / "name=item-0").glob("*.parquet"))
    assert rows(spark, folder) == [*[(i, f"item-{i}") for i in range(5)], (99, "other")]


@pytest.mark.parametrize(
    ("on_s3", "partition_by", "message"),
    [
        (False, ["bucket(4, id)"], "is an Iceberg transform"),
        (True, [], "local or mounted folder"),
    ],
)
def test_what_parquet_cannot_do_fails_before_writing(
    spark: SparkSession,
    api: RunningApi,
    tmp_path: Path,
    grants: Grants,
    on_s3: bool,
    partition_by: list[str],
    message: str,
) -> None:
    sink = {**parquet(tmp_path / "items"), "partition_by": partition_by}
    if on_s3:
        sink["config"] = {"path": "s3://bucket/items"}
    with pytest.raises(TerminalError, match=message):
        ingest(spark, api, sink, "run-refused", grants)
    assert not (tmp_path / "items").exists()
