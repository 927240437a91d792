"""Iceberg sink writes: what each write mode commits, and the row count it reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from runner.ingest import iceberg
from uis_compiler.plan import Sink, WriteMode

CATALOG = "headwater"


@pytest.fixture
def namespace(spark: SparkSession) -> Iterator[str]:
    name = f"writes_{uuid.uuid4().hex[:10]}"
    yield name
    spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{name}.items PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{name}")


def _sink(namespace: str, mode: WriteMode) -> Sink:
    return Sink(
        type="iceberg",
        view="items",
        namespace=namespace,
        table="items",
        write_mode=mode,
        primary_key=["id"] if mode == "merge" else [],
        partition_by=["days(day)"],
    )


def _frame(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(
        [(i, f"2024-01-0{d}", v) for i, d, v in rows], "id BIGINT, day STRING, value STRING"
    ).selectExpr("id", "CAST(day AS DATE) AS day", "value")


def _write(spark: SparkSession, namespace: str, mode: WriteMode, rows: list[Any]) -> int:
    frame = _frame(spark, rows).coalesce(1)
    written = iceberg.write(spark, frame, _sink(namespace, mode), CATALOG, block_on_drift=True)
    assert written.snapshot_id == iceberg.latest_snapshot(spark, written.table)
    return written.rows


def _table(spark: SparkSession, namespace: str) -> list[tuple[Any, ...]]:
    rows = spark.sql(f"SELECT id, day, value FROM {CATALOG}.{namespace}.items ORDER BY id, day")
    return [(r.id, r.day.day, r.value) for r in rows.collect()]


def test_a_merge_counts_rows_after_de_duplication_and_the_last_fetched_wins(
    spark: SparkSession, namespace: str
) -> None:
    first = [(1, 1, "a"), (2, 1, "b"), (2, 1, "b-later"), (3, 2, "c")]
    assert _write(spark, namespace, "merge", first) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b-later"), (3, 2, "c")]
    # A re-run updates two keys and adds one: three rows written, none duplicated.
    again = [(2, 1, "b2"), (3, 2, "c2"), (4, 2, "d")]
    assert _write(spark, namespace, "merge", again) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b2"), (3, 2, "c2"), (4, 2, "d")]


def test_an_empty_write_reports_no_rows(spark: SparkSession, namespace: str) -> None:
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 2, "b")]) == 2
    assert _write(spark, namespace, "append", []) == 0
    assert _write(spark, namespace, "merge", []) == 0
    assert len(_table(spark, namespace)) == 2


def test_overwriting_partitions_counts_the_rows_written(
    spark: SparkSession, namespace: str
) -> None:
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 2, "b"), (3, 2, "c")]) == 3
    # Day 2 is replaced by one row; day 1 stays.
    assert _write(spark, namespace, "overwrite_partitions", [(9, 2, "z")]) == 1
    assert _table(spark, namespace) == [(1, 1, "a"), (9, 2, "z")]


def test_a_merge_into_a_copy_on_write_table_de_duplicates_too(
    spark: SparkSession, namespace: str
) -> None:
    # Created by an append, the table keeps Iceberg's default: copy-on-write merges.
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 1, "b")]) == 2
    # The count includes the unchanged row 1, rewritten with row 2 in day 1's file.
    assert _write(spark, namespace, "merge", [(2, 1, "b2"), (2, 1, "b3"), (3, 2, "c")]) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b3"), (3, 2, "c")]
