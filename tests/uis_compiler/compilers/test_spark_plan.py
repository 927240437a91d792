"""UIS → Spark plan: content, placeholders, quality checks, spark-submit arguments."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from uis_docs import EXAMPLES, document

from uis_compiler import validate
from uis_compiler.compilers.options import CompileOptions, SparkOptions
from uis_compiler.compilers.spark import SparkCompilation, compile_spark
from uis_compiler.plan import plan_schema


@pytest.fixture(scope="module")
def spark_submit_options() -> set[str]:
    """The options the installed Spark's own `spark-submit --help` lists."""
    import pyspark

    script = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    # Its launcher finds Spark's home with `python3`: this interpreter, which has pyspark.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    shown = subprocess.run(
        [str(script), "--help"],
        env={**os.environ, "PATH": path, "PYSPARK_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    options = set(re.findall(r"^\s+(--[a-z-]+)", shown.stdout + shown.stderr, re.MULTILINE))
    assert {"--master", "--conf", "--deploy-mode"} <= options, shown.stderr[-2000:]
    return options


def _compile(text: str, options: CompileOptions | None = None) -> SparkCompilation:
    result = validate(text, engine="spark")
    assert result.valid, result.errors
    assert result.spec is not None
    return compile_spark(result.spec, options)


@pytest.fixture(scope="module")
def polygon() -> SparkCompilation:
    return _compile((EXAMPLES / "polygon_stock_daily_bars.yaml").read_text())


def test_polygon_requests(polygon: SparkCompilation) -> None:
    plan = polygon.plan
    assert plan.fan_out == {"ticker": ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]}
    (endpoint,) = plan.endpoints
    assert endpoint.url == (
        "https://api.polygon.io/v2/aggs/ticker/{{ ticker }}/range/1/day/"
        "{{ start_date }}/{{ end_date }}"
    )
    assert endpoint.query == {"adjusted": "true", "limit": "50000", "sort": "asc"}
    assert endpoint.fan_out == ["ticker"]
    assert endpoint.variables == ["end_date", "start_date", "ticker"]
    assert endpoint.pagination.mode == "cursor"
    assert endpoint.pagination.next_url_path == "$.next_url"
    assert endpoint.pagination.max_pages == 100
    assert endpoint.response_path == "$.results"
    assert endpoint.rate_limit_group == "polygon"
    assert plan.rate_limits == {"polygon": 100.0}
    assert plan.window.lookback_days == 5
    assert plan.parameters == []
    assert plan.http is not None and plan.http.concurrent_requests == 8


def test_polygon_auth_keeps_placeholders(polygon: SparkCompilation) -> None:
    auth = polygon.plan.endpoints[0].auth
    assert auth is not None
    assert (auth.type, auth.name, auth.value) == (
        "bearer",
        "Authorization",
        "Bearer {{ credentials.token }}",
    )
    assert polygon.plan.secrets == {"credentials": "env:POLYGON_API_KEY"}


def test_polygon_columns_and_types(polygon: SparkCompilation) -> None:
    columns = polygon.plan.endpoints[0].columns
    assert columns is not None
    by_name = {c.name: c for c in columns}
    assert by_name["ticker"].variable == "ticker"
    assert by_name["open"].source == ["o"] and by_name["open"].type == "double"
    assert by_name["volume"].type == "long"
    assert by_name["t"].type is None


def test_polygon_sink_and_quality(polygon: SparkCompilation) -> None:
    (sink,) = polygon.plan.sinks
    assert (sink.namespace, sink.table, sink.view) == (
        "market_data",
        "stock_daily_bars",
        "stock_daily_bars",
    )
    assert sink.write_mode == "merge"
    assert sink.primary_key == ["ticker", "bar_date"]
    assert sink.partition_by == ["months(bar_date)"]
    checks = {c.name: c for c in polygon.plan.quality.checks}
    assert checks["daily_bars.open.range"].min == 0 and checks["daily_bars.open.range"].max is None
    assert checks["daily_bars.ticker+t.unique"].columns == ["ticker", "t"]
    assert checks["stock_daily_bars.non_empty"].kind == "non_empty"
    assert checks["stock_daily_bars.bar_date.not_null"].threshold == 1.0
    assert polygon.plan.quality.block_on_failure is True
    assert polygon.plan.contract is not None
    assert polygon.plan.contract.columns["bar_date"] == "date"


def test_plan_conforms_to_its_published_schema(polygon: SparkCompilation) -> None:
    body = json.loads(polygon.to_json())
    assert list(Draft202012Validator(plan_schema()).iter_errors(body["plan"])) == []


def test_output_is_deterministic() -> None:
    text = (EXAMPLES / "polygon_stock_daily_bars.yaml").read_text()
    shuffled = text.replace(
        '        adjusted: "true"\n        sort: asc\n',
        '        sort: asc\n        adjusted: "true"\n',
    )
    assert shuffled != text
    assert _compile(text).to_json() == _compile(text).to_json() == _compile(shuffled).to_json()


def test_no_secret_value_reaches_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-7f3a9d2e41b8"
    monkeypatch.setenv("POLYGON_API_KEY", canary)
    monkeypatch.setenv("SHOP_TOKEN", canary)
    text = document(
        top="global_config: {secrets: {token: env:HEADWATER_SECRET_SHOP_TOKEN}}",
        endpoint='headers: {X-Token: "{{ secrets.token }}"}',
    )
    for compiled in (
        _compile(text),
        _compile((EXAMPLES / "polygon_stock_daily_bars.yaml").read_text()),
    ):
        assert canary not in compiled.to_json()
    assert _compile(text).plan.endpoints[0].headers == {"X-Token": "{{ secrets.token }}"}


def test_config_values_are_inlined_and_aliases_canonical() -> None:
    text = document(
        provider="config: {region: eu-west, fan_out: {shop: [a, b]}}",
        endpoint='query_params: {region: "{{ config.region }}", since: "{{ from_date }}", '
        'shop: "{{ shop }}", cursor: "{{ resume_at }}"}',
    )
    compiled = _compile(text)
    assert compiled.plan.endpoints[0].query == {
        "cursor": "{{ resume_at }}",
        "region": "eu-west",
        "shop": "{{ shop }}",
        "since": "{{ start_date }}",
    }
    assert compiled.plan.parameters == ["resume_at"]
    assert compiled.plan.fan_out == {"shop": ["a", "b"]}


def test_offset_and_page_pagination_defaults() -> None:
    offset = _compile((EXAMPLES / "pokeapi_offset.yaml").read_text()).plan.endpoints[0].pagination
    assert (offset.mode, offset.offset_param, offset.limit_param, offset.page_size) == (
        "offset",
        "offset",
        "limit",
        100,
    )
    page = _compile((EXAMPLES / "openbrewerydb_paged.yaml").read_text()).plan.endpoints[0]
    assert page.pagination.page_size_param == "per_page"
    assert page.pagination.start_page == 1
    assert page.response_path == "$"


def test_submit_args_use_only_real_spark_submit_options(
    polygon: SparkCompilation, spark_submit_options: set[str]
) -> None:
    args = polygon.submit_args
    options = [a for a in args[: args.index("headwater/ingest_main.py")] if a.startswith("--")]
    assert options
    assert set(options) <= spark_submit_options
    assert args[-3:] == ("headwater/ingest_main.py", "--plan", "plan.json")
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert all("=" in c for c in confs)
    assert "spark.sql.catalog.headwater=org.apache.iceberg.spark.SparkCatalog" in confs
    assert "spark.sql.catalog.headwater.type=jdbc" in confs
    assert not any("password" in c for c in confs)


def test_submit_args_follow_options_and_spec_memory() -> None:
    text = document(
        provider="config: {driver_memory: 2g, spark_config: {spark.sql.shuffle.partitions: 8}}"
    )
    options = CompileOptions(
        spark=SparkOptions(master="spark://m:7077", deploy_mode="cluster", jars=("/j/a.jar",))
    )
    args = _compile(text, options).submit_args
    assert args[:4] == ("--master", "spark://m:7077", "--deploy-mode", "cluster")
    assert args[args.index("--driver-memory") + 1] == "2g"
    assert "--executor-memory" not in args
    assert "spark.sql.shuffle.partitions=8" in args
    assert args[args.index("--jars") + 1] == "/j/a.jar"
