"""Compiled Flink SQL planned by the real Flink 2.0 planner (PyFlink), without any service.

Needs the PyFlink venv and jars of ``bash deploy/local/pyflink.sh``; the tests fail, not skip,
when they are missing, so a green run always means the SQL was planned. Each test starts a JVM
(about five seconds), so they run one after another.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from uis_docs import EXAMPLES, FILE_GRANTS

from uis_compiler import validate
from uis_compiler.compilers.flink import compile_flink
from uis_compiler.compilers.options import CatalogOptions, CompileOptions, FlinkOptions

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[3]
EXPLAIN = REPO / "deploy" / "local" / "flink_explain.py"
PYFLINK = Path(os.environ.get("HEADWATER_CACHE", Path.home() / ".cache" / "headwater")) / "pyflink"

# The shipped streaming example: Kafka JSON → SQL transform → Iceberg merge + upsert-kafka.
KAFKA_TO_ICEBERG = (EXAMPLES / "kafka_trades_streaming.yaml").read_text()

KAFKA_TO_POSTGRES = """\
version: "1.2"
name: latest_prices
created_by: tester
provider:
  name: ticks
  display_name: Ticks
  provider_type: kafka
  base_url: broker:9092
  tenant_id: t1
  owner: data
  mode: streaming
  endpoints:
    - name: ticks
      path: ticks
      field_mapping: {ticker: sym, price: p}
      validation_rules: {field_types: {price: number}}
  transforms:
    - name: latest
      type: sql
      sql_query: SELECT ticker, MAX(price) AS price FROM ticks GROUP BY ticker
  schema_contract:
    type: object
    properties:
      ticker: {type: string}
      price: {type: number}
  sinks:
    - type: postgres
      table_name: public.latest_prices
      config:
        url: jdbc:postgresql://db:5432/marts
        write_mode: merge
        primary_key: ticker
        credentials_ref: env:HEADWATER_SECRET_MARTS_DB
"""

JDBC_TO_PARQUET = """\
version: "1.2"
name: orders_nightly
created_by: tester
provider:
  name: shopdb
  display_name: Shop DB
  provider_type: database
  base_url: jdbc:postgresql://db:5432/shop
  credentials_ref: vault://secret/t1/shop/db
  tenant_id: t1
  owner: data
  mode: batch
  config: {execution_engine: flink}
  endpoints:
    - name: orders
      path: public.orders
      field_mapping: {order_id: id, customer: customer_name, total: amount, ordered_on: created}
      validation_rules:
        field_types: {order_id: integer, total: number, ordered_on: date}
  sinks:
    - type: parquet
      partition_by: [ordered_on]
      config: {path: "file:///tmp/headwater-never-written", write_mode: overwrite_partitions}
"""

S3_TO_PARQUET = """\
version: "1.2"
name: clicks
created_by: tester
provider:
  name: web
  display_name: Web
  provider_type: s3
  base_url: s3://landing/events/
  tenant_id: t1
  owner: data
  mode: streaming
  endpoints:
    - name: clicks
      path: /clicks
      field_mapping: {user: user.id, at: ts, page: page.path}
      validation_rules: {field_types: {at: timestamp}}
  sinks:
    - type: parquet
      partition_by: [page]
      config: {path: "s3://lake/clicks"}
"""


def _pyflink_python() -> Path:
    python = PYFLINK / "venv" / "bin" / "python"
    if not (PYFLINK / "ready").is_file() or not python.is_file():
        pytest.fail(
            f"the PyFlink planner is not set up in {PYFLINK}: run `bash deploy/local/pyflink.sh`"
        )
    return python


def _compile(text: str, warehouse: Path | None = None) -> str:
    result = validate(text, grants=FILE_GRANTS, engine="flink")
    assert result.valid, result.errors
    if warehouse is None:
        return compile_flink(result, CompileOptions())
    options = CompileOptions(
        catalog=CatalogOptions(name="lake", warehouse=warehouse.as_uri()),
        flink=FlinkOptions(catalog_type="hadoop"),
    )
    return compile_flink(result, options)


def _explain(sql: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "job.sql"
    script.write_text(sql)
    command = [str(_pyflink_python()), str(EXPLAIN), str(script), "--jars", str(PYFLINK / "jars")]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=600, cwd=REPO, check=False
    )


def test_kafka_json_through_a_transform_into_iceberg_merge_and_kafka(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    sql = _compile(KAFKA_TO_ICEBERG, warehouse)
    assert "EXECUTE STATEMENT SET" in sql
    done = _explain(sql, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sink(table=[lake.market_data.trades]" in done.stdout
    assert "Sink(table=[default_catalog.default_database.sink1$kafka]" in done.stdout
    # CREATE TABLE ran against the catalog: the primary key became Iceberg identifier fields.
    (metadata,) = (warehouse / "market_data" / "trades" / "metadata").glob("*.metadata.json")
    table = json.loads(metadata.read_text())
    assert table["properties"]["write.upsert.enabled"] == "true"
    schema = table["schemas"][-1]
    names = {field["id"]: field["name"] for field in schema["fields"]}
    assert sorted(names[i] for i in schema["identifier-field-ids"]) == ["ticker", "trade_id"]
    assert [field["name"] for field in table["partition-specs"][-1]["fields"]] == ["ticker"]


def test_the_platform_jdbc_catalog_plans_as_a_hadoop_catalog(tmp_path: Path) -> None:
    sql = _compile(KAFKA_TO_ICEBERG)
    assert "'jdbc.password' = '{{ secrets.catalog_password }}'" in sql
    done = _explain(sql, tmp_path, "--warehouse", str(tmp_path / "wh"))
    assert done.returncode == 0, done.stderr
    assert "Sink(table=[headwater.market_data.trades]" in done.stdout
    assert list((tmp_path / "wh" / "market_data" / "trades" / "metadata").glob("*.metadata.json"))


def test_kafka_aggregate_upserts_into_postgres(tmp_path: Path) -> None:
    done = _explain(_compile(KAFKA_TO_POSTGRES), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sink(table=[default_catalog.default_database.sink0$postgres]" in done.stdout
    assert "GroupAggregate(groupBy=[ticker]" in done.stdout


def test_jdbc_table_into_partitioned_parquet_in_batch(tmp_path: Path) -> None:
    sql = _compile(JDBC_TO_PARQUET)
    assert "INSERT OVERWRITE `sink0$parquet`" in sql
    done = _explain(sql, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sink(table=[default_catalog.default_database.sink0$parquet]" in done.stdout
    assert "TableSourceScan(table=[[default_catalog, default_database, orders$source]]" in (
        done.stdout
    )


def test_s3_json_lines_into_parquet_while_streaming(tmp_path: Path) -> None:
    sql = _compile(S3_TO_PARQUET)
    assert "'format' = 'raw'" in sql
    done = _explain(sql, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Sink(table=[default_catalog.default_database.sink0$parquet]" in done.stdout
    assert "TO_TIMESTAMP(JSON_VALUE(payload, '$.ts')" in done.stdout


def test_an_unknown_connector_option_fails_planning(tmp_path: Path) -> None:
    sql = _compile(KAFKA_TO_POSTGRES)
    broken = sql.replace("'format' = 'raw'", "'format' = 'raw',\n  'scan.bogus-option' = 'x'")
    assert broken != sql
    done = _explain(broken, tmp_path)
    assert done.returncode == 1, done.stdout
    assert "Unsupported options found for 'kafka'" in done.stderr
    assert "scan.bogus-option" in done.stderr
    assert done.stdout == ""


def test_an_update_stream_into_an_append_only_sink_fails_planning(tmp_path: Path) -> None:
    # The compiler cannot see that a GROUP BY makes updates; the planner refuses plain Kafka.
    text = KAFKA_TO_POSTGRES[: KAFKA_TO_POSTGRES.index("  sinks:")] + (
        "  sinks:\n    - type: kafka\n      kafka_topic: latest\n"
        "      config: {bootstrap_servers: 'broker:9092'}\n"
    )
    done = _explain(_compile(text), tmp_path)
    assert done.returncode == 1, done.stdout
    assert "doesn't support consuming update changes" in done.stderr
