"""The commit stage of run_plan with several sinks: a retry skips what an earlier attempt
committed, and a sink that fails after others committed leaves no partial result unsaid."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from paged_api import ITEMS_ENDPOINT, RunningApi, compile_plan, spec_text
from pyspark.sql import SparkSession

from runner.ingest.exceptions import TerminalError
from runner.ingest.iceberg import latest_snapshot
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter
from uis_compiler.grants import Grants
from uis_compiler.plan import SparkPlan

CATALOG = JobConfig().catalog


@pytest.fixture
def namespace(spark: SparkSession) -> Iterator[str]:
    name = f"commits_{uuid.uuid4().hex[:10]}"
    yield name
    for table in ("first", "second"):
        spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{name}.{table} PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{name}")


def iceberg(namespace: str, table: str, **config: Any) -> dict[str, Any]:
    return {"type": "iceberg", "table_name": f"{namespace}.{table}", "config": config}


def plan_of(api: RunningApi, sinks: list[dict[str, Any]], grants: Grants) -> SparkPlan:
    return compile_plan(spec_text(api.base_url, ITEMS_ENDPOINT, {"sinks": sinks}), grants=grants)


def ingest(
    spark: SparkSession,
    plan: SparkPlan,
    run_id: str,
    out: io.StringIO,
    earlier: tuple[str, ...] = (),
    grants: Grants | None = None,
) -> RunResult:
    inputs = RunInputs.for_window(
        plan, run_id, logical_date=date(2024, 6, 3), earlier_attempts=earlier
    )
    config = JobConfig(grants=grants or Grants())
    return run_plan(spark, plan, inputs, PrintReporter(out), config)


def ids(spark: SparkSession, namespace: str, table: str) -> list[int]:
    frame = spark.table(f"{CATALOG}.{namespace}.{table}").orderBy("id")
    return [int(row.id) for row in frame.collect()]


def test_a_retry_skips_the_sinks_an_earlier_attempt_committed(
    spark: SparkSession, api: RunningApi, namespace: str
) -> None:
    grants = Grants()
    # The first attempt committed its first sink only (its process died before the second).
    only_first = plan_of(api, [iceberg(namespace, "first")], grants)
    attempt = ingest(spark, only_first, "run-1", io.StringIO())
    both = plan_of(api, [iceberg(namespace, "first"), iceberg(namespace, "second")], grants)
    out = io.StringIO()
    retry = ingest(spark, both, "run-2", out, earlier=("run-1",))
    assert ids(spark, namespace, "first") == [0, 1, 2, 3, 4]
    assert ids(spark, namespace, "second") == [0, 1, 2, 3, 4]
    skipped, wrote = retry.written
    # The skipped sink is reported as the earlier attempt's commit.
    assert (skipped.committed_by, skipped.snapshot_id, skipped.rows) == (
        "run-1", attempt.snapshot_id, 5
    )  # fmt: skip
    assert (wrote.committed_by, wrote.rows) == ("run-2", 5)
    assert retry.rows_written == 10
    assert (
        "skipped headwater." in out.getvalue() and "run run-1, an earlier attempt" in out.getvalue()
    )
    # A third attempt finds both commits and writes nothing.
    again = ingest(spark, both, "run-3", io.StringIO(), earlier=("run-2", "run-1"))
    assert [w.committed_by for w in again.written] == ["run-1", "run-2"]
    assert ids(spark, namespace, "first") == [0, 1, 2, 3, 4]
    assert ids(spark, namespace, "second") == [0, 1, 2, 3, 4]


def test_a_failed_second_sink_rolls_the_first_back(
    spark: SparkSession, api: RunningApi, namespace: str, trino_cursor: Any
) -> None:
    grants = Grants()
    ingest(spark, plan_of(api, [iceberg(namespace, "first")], grants), "run-0", io.StringIO())
    before = latest_snapshot(spark, f"{CATALOG}.{namespace}.first")
    # The merge fails at its commit: its key is not among the rows' columns.
    sinks = [
        iceberg(namespace, "first"),
        iceberg(namespace, "second", write_mode="merge", primary_key=["missing"]),
    ]
    out = io.StringIO()
    with pytest.raises(TerminalError, match=r"primary key column\(s\) missing") as raised:
        ingest(spark, plan_of(api, sinks, grants), "run-1", out)
    assert f"rolled back: iceberg {CATALOG}.{namespace}.first (snapshot" in str(raised.value)
    assert "partially committed" not in str(raised.value)
    assert latest_snapshot(spark, f"{CATALOG}.{namespace}.first") == before
    trino_cursor.execute(f"SELECT id FROM iceberg.{namespace}.first ORDER BY id")
    assert [row[0] for row in trino_cursor.fetchall()] == [0, 1, 2, 3, 4]


def test_a_commit_that_cannot_be_undone_is_named_as_partial(
    spark: SparkSession, api: RunningApi, namespace: str, tmp_path: Path
) -> None:
    grants = Grants().with_tenant("default", file_roots=(str(tmp_path),))
    folder = tmp_path / "items"
    sinks = [
        {"type": "parquet", "config": {"path": str(folder)}},
        iceberg(namespace, "second", write_mode="merge", primary_key=["missing"]),
    ]
    out = io.StringIO()
    with pytest.raises(TerminalError) as raised:
        ingest(spark, plan_of(api, sinks, grants), "run-1", out, grants=grants)
    message = str(raised.value)
    assert "partially committed" in message and f"file {folder}" in message
    assert "ERROR partially committed" in out.getvalue()
    assert spark.read.parquet(str(folder)).count() == 5
