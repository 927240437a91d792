"""overwrite_partitions of the Polygon example on its months()-partitioned table, read through
Trino: a run replaces the rows of its window and no other day of the month."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from ingest_setup import COLUMNS, expected_rows, polygon_plan, unique_namespace
from pyspark.sql import SparkSession

from runner.ingest.exceptions import TerminalError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter
from standins.polygon.server import RunningSim
from uis_compiler.plan import SparkPlan

#: The example merges on (ticker, bar_date); these replace the window's rows instead.
OVERWRITE = {
    "write_mode: merge": "write_mode: overwrite_partitions",
    "        primary_key: [ticker, bar_date]\n": "",
}
MONTH = (date(2024, 3, 1), date(2024, 3, 31))
#: A week in the middle of March: the same month's partition holds days before and after it.
WINDOW = (date(2024, 3, 11), date(2024, 3, 15))


@pytest.fixture
def namespace(trino_cursor: Any) -> Iterator[str]:
    name = unique_namespace()
    yield name
    trino_cursor.execute(f"DROP TABLE IF EXISTS iceberg.{name}.stock_daily_bars")
    trino_cursor.fetchall()
    trino_cursor.execute(f"DROP SCHEMA IF EXISTS iceberg.{name}")
    trino_cursor.fetchall()


@pytest.fixture
def key(sim: RunningSim, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("POLYGON_API_KEY", sim.key)
    return sim.key


def ingest(
    spark: SparkSession, plan: SparkPlan, run_id: str, window: tuple[date, date]
) -> RunResult:
    start, end = window
    inputs = RunInputs.for_window(plan, run_id, logical_date=end, start=start, end=end)
    return run_plan(spark, plan, inputs, PrintReporter(io.StringIO()), JobConfig())


def table_rows(trino_cursor: Any, namespace: str) -> list[tuple[Any, ...]]:
    trino_cursor.execute(
        f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY ticker, bar_date"
    )
    return [tuple(row) for row in trino_cursor.fetchall()]


def test_an_overwrite_replaces_its_window_and_keeps_the_rest_of_the_month(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str, trino_cursor: Any
) -> None:
    plan = polygon_plan(sim.base_url, namespace, **OVERWRITE)
    assert plan.sinks[0].partition_by == ["months(bar_date)"]
    ingest(spark, plan, "month", MONTH)
    month = expected_rows(*MONTH, "month")
    assert table_rows(trino_cursor, namespace) == month
    week = ingest(spark, plan, "week", WINDOW)
    mine = expected_rows(*WINDOW, "week")
    assert week.rows_written == len(mine) > 0
    # The window's rows are the week's run's, once; every other March day is still the first
    # run's, though the same month's files held both.
    kept = [row for row in month if not WINDOW[0] <= row[1] <= WINDOW[1]]
    assert len(kept) > 0
    expected = sorted(kept + mine, key=lambda row: (row[0], row[1]))
    assert table_rows(trino_cursor, namespace) == expected
    # Again: the window is replaced, not added to.
    ingest(spark, plan, "week-again", WINDOW)
    again = expected_rows(*WINDOW, "week-again")
    assert table_rows(trino_cursor, namespace) == sorted(
        kept + again, key=lambda row: (row[0], row[1])
    )
    trino_cursor.execute(
        f"SELECT summary['headwater.run-id'] FROM iceberg.{namespace}.\"stock_daily_bars$snapshots\" "
        "ORDER BY committed_at"
    )
    assert [row[0] for row in trino_cursor.fetchall()] == ["month", "week", "week-again"]


def test_an_unpartitioned_overwrite_of_a_windowed_read_is_refused_before_fetching(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str, trino_cursor: Any
) -> None:
    plan = polygon_plan(
        sim.base_url, namespace, **OVERWRITE, **{'      partition_by: ["months(bar_date)"]\n': ""}
    )
    before = sim.stats()["requests"]
    with pytest.raises(TerminalError, match=r"would replace the whole table with the rows of one"):
        ingest(spark, plan, "week", WINDOW)
    assert sim.stats()["requests"] == before
    trino_cursor.execute(f"SHOW SCHEMAS FROM iceberg LIKE '{namespace}'")
    assert trino_cursor.fetchall() == []
