"""The Polygon example end to end: the local server → Spark → Iceberg, read back through Trino."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from ingest_setup import COLUMNS, TICKERS, expected_rows, polygon_plan, unique_namespace
from pyspark.sql import SparkSession

from runner.ingest.exceptions import HttpTerminalError, QualityFailedError, TransientError
from runner.ingest.iceberg import latest_snapshot
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter
from standins.polygon.config import FaultConfig, FaultRule, SimConfig, parse_rate_limit
from standins.polygon.server import RunningSim, start_in_thread
from uis_compiler.plan import SparkPlan

START, END = date(2024, 1, 2), date(2024, 1, 31)


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
    spark: SparkSession, plan: SparkPlan, run_id: str, out: io.StringIO | None = None
) -> RunResult:
    inputs = RunInputs.for_window(plan, run_id, logical_date=END, start=START, end=END)
    reporter = PrintReporter(out or io.StringIO())
    return run_plan(spark, plan, inputs, reporter, JobConfig(progress_interval_seconds=0.2))


def table_rows(trino_cursor: Any, namespace: str) -> list[tuple[Any, ...]]:
    trino_cursor.execute(
        f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY ticker, bar_date"
    )
    return [tuple(row) for row in trino_cursor.fetchall()]


def test_a_window_lands_exactly_and_a_rerun_adds_nothing(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str, trino_cursor: Any
) -> None:
    plan = polygon_plan(sim.base_url, namespace)
    first = ingest(spark, plan, "run-1")
    expected = expected_rows(START, END, "run-1")
    assert first.rows_read == first.rows_written == len(expected) == 22 * len(TICKERS)
    assert first.stats.requests == len(TICKERS) and first.stats.retries == 0
    assert table_rows(trino_cursor, namespace) == expected
    assert [w.created for w in first.written] == [True]
    assert all(check.passed for check in first.checks)

    second = ingest(spark, plan, "run-2")
    rows = table_rows(trino_cursor, namespace)
    # Merge on (ticker, bar_date): same rows, now stamped by the second run.
    assert len(rows) == len(expected)
    assert rows == expected_rows(START, END, "run-2")
    assert second.snapshot_id != first.snapshot_id


def test_faults_are_retried_and_the_data_is_still_exact(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str, trino_cursor: Any
) -> None:
    # Every retryable kind once or twice (AAPL is spared: the driver samples it first).
    sim.set_faults(
        FaultConfig(
            rules=(
                FaultRule(kind="error", count=2, ticker="MSFT", status=503),
                FaultRule(kind="malformed", count=1, ticker="AMZN"),
                FaultRule(kind="reset", count=1, ticker="NVDA"),
            )
        )
    )
    try:
        result = ingest(spark, polygon_plan(sim.base_url, namespace), "run-faults")
    finally:
        sim.set_faults(FaultConfig())
    assert result.stats.retries == 4
    assert result.stats.requests == len(TICKERS) + 4
    assert table_rows(trino_cursor, namespace) == expected_rows(START, END, "run-faults")


def test_rate_limited_requests_wait_for_retry_after(
    spark: SparkSession, namespace: str, trino_cursor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The source allows 2 requests a second; the spec believes 100: 429s with Retry-After.
    with start_in_thread(SimConfig(port=0, rate_limit=parse_rate_limit("2/s"))) as limited:
        monkeypatch.setenv("POLYGON_API_KEY", limited.key)
        result = ingest(spark, polygon_plan(limited.base_url, namespace), "run-429")
    assert result.stats.retries > 0
    assert table_rows(trino_cursor, namespace) == expected_rows(START, END, "run-429")


def test_a_blocking_quality_failure_commits_nothing(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str, trino_cursor: Any
) -> None:
    plan = polygon_plan(sim.base_url, namespace)
    ingest(spark, plan, "run-ok")
    table = f"headwater.{namespace}.stock_daily_bars"
    before = latest_snapshot(spark, table)
    # Prices are far above 10: the range check fails on every row.
    failing = polygon_plan(sim.base_url, namespace, **{"open: [0, null]": "open: [0, 10]"})
    with pytest.raises(QualityFailedError, match=r"daily_bars\.open\.range"):
        ingest(spark, failing, "run-bad")
    assert latest_snapshot(spark, table) == before
    assert {row[-1] for row in table_rows(trino_cursor, namespace)} == {"run-ok"}


def test_a_wrong_key_is_terminal_at_once(
    spark: SparkSession, sim: RunningSim, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", "not-the-key-1234")
    with pytest.raises(HttpTerminalError) as raised:
        ingest(spark, polygon_plan(sim.base_url, namespace), "run-401")
    assert raised.value.status == 401
    assert "not-the-key-1234" not in str(raised.value)


def test_persistent_5xx_is_transient_after_its_attempts(
    spark: SparkSession, sim: RunningSim, key: str, namespace: str
) -> None:
    sim.set_faults(FaultConfig(error_rate=1.0, seed=1))
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the cause is checked below
            ingest(spark, polygon_plan(sim.base_url, namespace), "run-5xx")
    finally:
        sim.set_faults(FaultConfig())
    assert isinstance(raised.value, TransientError) or "HttpTransientError" in str(raised.value)


def test_no_secret_value_appears_in_any_output(
    spark: SparkSession,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    canary = "canary-9f2c4e7a1b"
    monkeypatch.setenv("POLYGON_API_KEY", canary)
    out = io.StringIO()
    with start_in_thread(SimConfig(port=0, keys=(canary,))) as accepting:
        plan = polygon_plan(accepting.base_url, namespace)
        result = ingest(spark, plan, "run-canary", out)
    assert result.rows_written > 0
    # The same key refused by another server: the error must not echo it either.
    with (
        start_in_thread(SimConfig(port=0, keys=("another-key-0000",))) as refusing,
        pytest.raises(HttpTerminalError) as raised,
    ):
        ingest(spark, polygon_plan(refusing.base_url, namespace), "run-canary-2", out)
    captured = capfd.readouterr()
    texts = [out.getvalue(), captured.out, captured.err, str(raised.value), plan.model_dump_json()]
    assert all(canary not in text for text in texts)
    assert "progress" in out.getvalue()
