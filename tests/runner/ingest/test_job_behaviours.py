"""run_plan end to end against our own API: python transforms, schema drift, parameters, quality."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import ingest_transforms
import pytest
from ingest_setup import polygon_plan, unique_namespace
from paged_api import (
    ECHO_AUTH,
    RunningApi,
    Scripted,
    compile_plan,
    spec_text,
)
from pyspark.sql import SparkSession

from runner.ingest import quality
from runner.ingest.exceptions import HttpTerminalError, ParameterMissingError, SchemaDriftError
from runner.ingest.iceberg import latest_snapshot
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter
from standins.polygon.server import RunningSim
from uis_compiler.grants import Grants
from uis_compiler.plan import Check, SparkPlan

DAY = date(2024, 6, 3)
CATALOG = JobConfig().catalog


@pytest.fixture
def namespace(spark: SparkSession) -> Iterator[str]:
    name = f"behaviours_{uuid.uuid4().hex[:10]}"
    yield name
    spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{name}.items PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{name}")


#: The platform lists the tests' transform module for Python transforms.
GRANTS = Grants(python_modules=frozenset({"ingest_transforms"}))


def plan_of(
    api: RunningApi, namespace: str, endpoint: dict[str, Any], **provider: Any
) -> SparkPlan:
    sink = {"type": "iceberg", "table_name": f"{namespace}.items", "config": {}}
    endpoint = {"name": "items", "path": "/records", "response_path": "$.data", **endpoint}
    text = spec_text(api.base_url, endpoint, {"sinks": [sink], **provider})
    return compile_plan(text, grants=GRANTS)


def ingest(
    spark: SparkSession,
    plan: SparkPlan,
    run_id: str,
    out: io.StringIO | None = None,
    parameters: dict[str, str] | None = None,
) -> RunResult:
    inputs = RunInputs.for_window(plan, run_id, logical_date=DAY, parameters=parameters)
    reporter = PrintReporter(out if out is not None else io.StringIO())
    config = JobConfig(progress_interval_seconds=0.2, grants=GRANTS)
    return run_plan(spark, plan, inputs, reporter, config)


def table(spark: SparkSession, namespace: str, order: str = "id") -> list[dict[str, Any]]:
    frame = spark.table(f"{CATALOG}.{namespace}.items")
    return [row.asDict() for row in frame.orderBy(order).collect()]


def test_a_python_transform_runs_on_the_driver(
    spark: SparkSession, api: RunningApi, namespace: str
) -> None:
    transform = {
        "name": "labelled",
        "type": "python",
        "python_module": "ingest_transforms",
        "python_function": "even_labelled",
        "parameters": {"views": {"source": "items"}},
    }
    plan = plan_of(
        api, namespace, {"field_mapping": {"id": "id", "name": "name"}}, transforms=[transform]
    )
    assert plan.sinks[0].view == "labelled"
    calls = len(ingest_transforms.CALLS)
    result = ingest(spark, plan, "run-python")
    # Called once, here: the driver imported the module from the tests directory.
    assert ingest_transforms.CALLS[calls:] == [["id", "name"]]
    assert result.rows_read == 5
    assert result.rows_written == 3
    assert table(spark, namespace) == [
        {"id": 0, "name": "item-0", "label": "item-0#0"},
        {"id": 2, "name": "item-2", "label": "item-2#2"},
        {"id": 4, "name": "item-4", "label": "item-4#4"},
    ]


CONTRACT = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}


def test_schema_drift_blocks_or_evolves_the_table(
    spark: SparkSession, api: RunningApi, namespace: str
) -> None:
    narrow = {"field_mapping": {"id": "id", "name": "name"}}
    wide = {"field_mapping": {"id": "id", "name": "name", "upper": "name"}}

    def plan(endpoint: dict[str, Any], block: bool) -> SparkPlan:
        slos = {"block_on_schema_drift": block}
        return plan_of(api, namespace, endpoint, schema_contract=CONTRACT, slos=slos)

    first = ingest(spark, plan(narrow, True), "run-1")
    assert [w.created for w in first.written] == [True]
    name = f"{CATALOG}.{namespace}.items"
    before = latest_snapshot(spark, name)
    assert before == first.snapshot_id

    with pytest.raises(SchemaDriftError, match=r"new column `upper` string"):
        ingest(spark, plan(wide, True), "run-2")
    assert latest_snapshot(spark, name) == before
    assert spark.table(name).columns == ["id", "name"]

    third = ingest(spark, plan(wide, False), "run-3")
    assert third.snapshot_id not in (None, before)
    assert spark.table(name).columns == ["id", "name", "upper"]
    rows = table(spark, namespace, "upper")
    # Rows written before the column existed read it as null.
    assert [row["upper"] for row in rows] == [None] * 5 + [f"item-{i}" for i in range(5)]


def test_a_missing_run_parameter_fails_before_any_request(
    spark: SparkSession, api: RunningApi, namespace: str
) -> None:
    plan = plan_of(api, namespace, {"query_params": {"account": "{{ account }}"}})
    assert plan.parameters == ["account"]
    with pytest.raises(ParameterMissingError, match=r"parameter\(s\) account") as raised:
        ingest(spark, plan, "run-no-parameter")
    assert "parameters: {account: …}" in str(raised.value)
    assert api.api.seen == []
    assert not spark.catalog.tableExists(f"{CATALOG}.{namespace}.items")


def test_a_failed_check_that_does_not_block_is_reported_and_committed(
    spark: SparkSession, api: RunningApi, namespace: str
) -> None:
    endpoint = {
        "query_params": {"account": "{{ account }}"},
        "field_mapping": {"id": "id", "name": "name"},
        "validation_rules": {"numeric_ranges": {"id": [2, None]}, "required_fields": ["name"]},
    }
    plan = plan_of(api, namespace, endpoint, slos={"block_on_quality_drop": False})
    assert plan.quality.block_on_failure is False
    out = io.StringIO()
    result = ingest(spark, plan, "run-warn", out, {"account": "acme"})
    assert {seen.query["account"] for seen in api.api.seen} == {"acme"}
    assert result.rows_written == 5
    assert result.snapshot_id is not None
    checks = {check.name: check for check in result.checks}
    failed = checks["items.id.range"]
    assert (failed.passed, failed.observed, failed.details) == (
        False,
        0.6,
        {"failed_rows": 2, "rows": 5},
    )
    assert checks["items.name.not_null"].passed
    assert "WARNING quality check items.id.range failed: observed 0.6" in out.getvalue()
    assert [row["id"] for row in table(spark, namespace)] == [0, 1, 2, 3, 4]


def test_an_executor_error_reaches_the_caller_typed_and_redacted(
    spark: SparkSession, api: RunningApi, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_SECRET_BEHAVIOURS_TOKEN", "tok-executor-8d41c2")
    endpoint = {"path": "/script/{{ part }}", "auth": "bearer"}
    fan_out = {"fan_out": {"part": ["fine", "gone"]}}
    plan = plan_of(
        api,
        namespace,
        endpoint,
        credentials_ref="env:HEADWATER_SECRET_BEHAVIOURS_TOKEN",
        config=fan_out,
    )
    # The driver samples the first chain (`fine`); the 404 of `gone` happens on an executor.
    api.api.script("gone", Scripted(404, body=ECHO_AUTH))
    with pytest.raises(HttpTerminalError) as raised:
        ingest(spark, plan, "run-404")
    assert raised.value.status == 404
    assert "refused Bearer ***" in str(raised.value)
    assert "tok-executor-8d41c2" not in str(raised.value)
    assert [seen.path for seen in api.api.seen].count("/script/gone") == 1
    assert not spark.catalog.tableExists(f"{CATALOG}.{namespace}.items")


@pytest.mark.parametrize("observed", [False, True], ids=["aggregated", "observed"])
def test_quality_checks_measure_shares_against_thresholds(
    spark: SparkSession, observed: bool
) -> None:
    view = f"quality_{uuid.uuid4().hex[:8]}"
    frame = spark.createDataFrame(
        [(1, "a", "10"), (2, None, "x"), (2, "c", None), (40, None, "7")],
        "id long, name string, amount string",
    )
    empty = f"{view}_empty"
    checks = [
        Check(name="half", kind="not_null", view=view, columns=["name"], threshold=0.5),
        Check(name="most", kind="not_null", view=view, columns=["name"], threshold=0.75),
        Check(name="range", kind="range", view=view, columns=["id"], min=1, max=10),
        Check(name="open", kind="range", view=view, columns=["id"], min=0),
        Check(name="type", kind="type", view=view, columns=["amount"], type="long"),
        Check(name="unique", kind="unique", view=view, columns=["id"]),
        Check(name="rows", kind="non_empty", view=view),
        Check(name="no_rows", kind="non_empty", view=empty),
        Check(name="vacuous", kind="not_null", view=empty, columns=["name"]),
    ]
    observations = {}
    for name, rows in ((view, frame), (empty, frame.limit(0))):
        if observed:
            # As the job does: counted while the view is cached, by the action that caches it.
            rows, observations[name] = quality.observe(rows, name, checks)
            rows = rows.cache()
            rows.count()
        rows.createOrReplaceTempView(name)
    results = quality.run(spark, checks, observations)
    found = {r.name: (r.passed, r.observed, r.details) for r in results}
    assert found == {
        "half": (True, 0.5, {"failed_rows": 2, "rows": 4}),
        "most": (False, 0.5, {"failed_rows": 2, "rows": 4}),
        "range": (False, 0.75, {"failed_rows": 1, "rows": 4}),
        "open": (True, 1.0, {"failed_rows": 0, "rows": 4}),
        # A null is not a wrong type: only "x" fails.
        "type": (False, 0.75, {"failed_rows": 1, "rows": 4}),
        "unique": (
            False,
            0.75,
            {"duplicate_keys": 1, "duplicate_rows": 1, "columns": ["id"]},
        ),
        "rows": (True, 4.0, {}),
        "no_rows": (False, 0.0, {}),
        "vacuous": (True, 1.0, {"failed_rows": 0, "rows": 0}),
    }


def test_rows_that_differ_from_the_contract_are_blocked(
    spark: SparkSession, sim: RunningSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transform producing a column the contract types differently: nothing committed."""
    monkeypatch.setenv("POLYGON_API_KEY", sim.key)
    namespace = unique_namespace()
    plan = polygon_plan(
        sim.base_url,
        namespace,
        # The transform makes bar_date a DATE; the contract now says integer.
        **{"      bar_date: {type: string, format: date}": "      bar_date: {type: integer}"},
    )
    day = date(2024, 2, 5)
    inputs = RunInputs.for_window(plan, "run-contract", logical_date=day, start=day, end=day)
    with pytest.raises(SchemaDriftError, match="bar_date"):
        run_plan(spark, plan, inputs, PrintReporter(io.StringIO()))
    assert not spark.catalog.tableExists(f"headwater.{namespace}.stock_daily_bars")
