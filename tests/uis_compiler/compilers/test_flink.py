"""The Flink SQL compiler: statements, options, quoting, determinism and every refusal."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from uis_docs import FILE_GRANTS

from uis_compiler import codes, validate
from uis_compiler.compilers.flink import compile_flink
from uis_compiler.compilers.flink_sql import query_body
from uis_compiler.compilers.options import CatalogOptions, CompileOptions, FlinkOptions
from uis_compiler.exceptions import CompileError
from uis_compiler.types import Engine, Issue, Severity
from uis_compiler.validator import ValidationResult

_HEAD = """\
version: "1.2"
name: ticks
created_by: tester
provider:
  name: exchange
  display_name: Exchange
  tenant_id: t1
  owner: data
"""

_KAFKA = """\
provider_type: kafka
base_url: kafka://broker-1:9092,broker-2:9092
mode: streaming
endpoints:
  - name: trades
    path: market.trades
    field_mapping:
      trade_id: id
      ticker: sym
      price: px.value
"""

_CONTRACT = """\
schema_contract:
  type: object
  properties:
    trade_id: {type: integer}
    ticker: {type: string}
    price: {type: number}
"""

_ICEBERG_MERGE = """\
sinks:
  - type: iceberg
    table_name: market.trades
    partition_by: [ticker]
    config:
      write_mode: merge
      primary_key: [trade_id, ticker]
"""


def doc(*fragments: str) -> str:
    """A document whose provider holds ``fragments`` (each dedented, at provider level)."""
    body = "".join(textwrap.dedent(fragment).strip("\n") + "\n" for fragment in fragments)
    return _HEAD + textwrap.indent(body, "  ")


def compiled(
    text: str,
    *,
    options: CompileOptions | None = None,
    flink: FlinkOptions | None = None,
    engine: Engine = "flink",
) -> str:
    result = validate(text, grants=FILE_GRANTS, engine=engine)
    assert result.valid, result.errors
    options = options or CompileOptions()
    if flink is not None:
        options = dataclasses.replace(options, flink=flink)
    return compile_flink(result, options)


def test_kafka_to_iceberg_merge_is_the_whole_script() -> None:
    sql = compiled(doc(_KAFKA, _CONTRACT, _ICEBERG_MERGE))
    assert sql == textwrap.dedent(
        """\
        -- Flink SQL for UIS spec `ticks` (provider `exchange`, UIS 1.2), compiled by Headwater; edit the spec, not this file.
        -- Target: Apache Flink 2.0 with the Kafka, JDBC, Iceberg and Parquet connectors.
        -- Secrets are placeholders inside string literals: {{ secrets.NAME }} or {{ secrets.NAME.KEY }}; the submitter substitutes them inside the job.
        -- secret catalog_password = env:HEADWATER_CATALOG_PASSWORD

        SET 'pipeline.name' = 'headwater-ticks';
        SET 'parallelism.default' = '1';
        SET 'execution.runtime-mode' = 'streaming';
        SET 'execution.checkpointing.interval' = '60s';

        -- Source: endpoint trades
        CREATE TEMPORARY TABLE `trades$source` (
          `payload` STRING
        ) WITH (
          'connector' = 'kafka',
          'topic' = 'market.trades',
          'properties.bootstrap.servers' = 'broker-1:9092,broker-2:9092',
          'properties.group.id' = 'headwater-ticks',
          'scan.startup.mode' = 'group-offsets',
          'properties.auto.offset.reset' = 'earliest',
          'format' = 'raw'
        );

        CREATE TEMPORARY VIEW `trades` AS
        SELECT
          TRY_CAST(JSON_VALUE(`payload`, '$.id') AS BIGINT) AS `trade_id`,
          JSON_VALUE(`payload`, '$.sym') AS `ticker`,
          TRY_CAST(JSON_VALUE(`payload`, '$.px.value') AS DOUBLE) AS `price`
        FROM `trades$source`;

        CREATE CATALOG `headwater` WITH (
          'type' = 'iceberg',
          'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
          'uri' = 'jdbc:postgresql://127.0.0.1:5432/headwater_catalog',
          'jdbc.user' = 'headwater',
          'jdbc.password' = '{{ secrets.catalog_password }}',
          'warehouse' = 'file:///var/lib/headwater/warehouse'
        );

        CREATE DATABASE IF NOT EXISTS `headwater`.`market`;

        CREATE TABLE IF NOT EXISTS `headwater`.`market`.`trades` (
          `trade_id` BIGINT,
          `ticker` STRING,
          `price` DOUBLE,
          PRIMARY KEY (`trade_id`, `ticker`) NOT ENFORCED
        ) PARTITIONED BY (`ticker`) WITH (
          'format-version' = '2',
          'write.upsert.enabled' = 'true'
        );

        INSERT INTO `headwater`.`market`.`trades`
        SELECT `trade_id`, `ticker`, `price`
        FROM `trades`;
        """
    )


def test_hadoop_catalog_variant_has_no_password() -> None:
    options = CompileOptions(catalog=CatalogOptions(name="lake", warehouse="file:///tmp/wh"))
    sql = compiled(
        doc(_KAFKA, _CONTRACT, _ICEBERG_MERGE),
        options=options,
        flink=FlinkOptions(catalog_type="hadoop"),
    )
    assert (
        "CREATE CATALOG `lake` WITH (\n  'type' = 'iceberg',\n  'catalog-type' = 'hadoop',\n"
        "  'warehouse' = 'file:///tmp/wh'\n);"
    ) in sql
    assert "password" not in sql
    assert "-- secret" not in sql
    assert "INSERT INTO `lake`.`market`.`trades`" in sql


def test_iceberg_sink_overrides_catalog_and_warehouse_and_adds_properties() -> None:
    sinks = """\
        sinks:
          - type: iceberg
            table_name: raw.trades
            config:
              catalog: archive
              warehouse: s3://archive/wh
              format-version: 2
              properties: {write.parquet.compression-codec: zstd, write.wap.enabled: true}
        """
    sql = compiled(doc(_KAFKA, sinks))
    assert "CREATE CATALOG `archive` WITH (" in sql
    assert "'warehouse' = 's3://archive/wh'" in sql
    assert "PRIMARY KEY" not in sql
    assert "write.upsert.enabled" not in sql
    assert (
        "  'format-version' = '2',\n  'write.parquet.compression-codec' = 'zstd',\n"
        "  'write.wap.enabled' = 'true'\n);"
    ) in sql


def test_batch_kafka_reads_up_to_the_latest_offset_without_checkpoints() -> None:
    sql = compiled(doc(_KAFKA.replace("mode: streaming", "mode: batch"), _ICEBERG_MERGE))
    assert "SET 'execution.runtime-mode' = 'batch';" in sql
    assert "'scan.bounded.mode' = 'latest-offset'" in sql
    assert "checkpointing" not in sql


def test_micro_batch_runs_as_streaming() -> None:
    sql = compiled(doc(_KAFKA.replace("mode: streaming", "mode: micro_batch"), _ICEBERG_MERGE))
    assert "SET 'execution.runtime-mode' = 'streaming';" in sql
    assert "scan.bounded.mode" not in sql


def test_parallelism_and_checkpoint_interval() -> None:
    text = doc(_KAFKA, "parallelism: 4", _ICEBERG_MERGE)
    sql = compiled(text, flink=FlinkOptions(checkpoint_interval="5 min"))
    assert "SET 'parallelism.default' = '4';" in sql
    assert "SET 'execution.checkpointing.interval' = '5 min';" in sql


def test_column_types_from_contract_then_field_types() -> None:
    endpoint = """\
        provider_type: kafka
        base_url: broker:9092
        mode: streaming
        endpoints:
          - name: bars
            path: bars
            response_path: $.bar
            field_mapping: {day: d, at: t, open: o, n: n, ok: ok, label: l}
            validation_rules:
              field_types: {n: bigint, ok: bool, open: decimal}
        schema_contract:
          type: object
          properties:
            day: {type: string, format: date}
            at: {type: string, format: date-time}
            open: {type: number}
            n: {type: integer}
            ok: {type: boolean}
            label: {type: string}
        """
    sql = compiled(
        doc(endpoint, _ICEBERG_MERGE.replace("ticker", "label").replace("trade_id", "n"))
    )
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.bar.d') AS DATE) AS `day`" in sql
    assert (
        "COALESCE(TRY_CAST(JSON_VALUE(`payload`, '$.bar.t') AS TIMESTAMP(3)), "
        "TO_TIMESTAMP(JSON_VALUE(`payload`, '$.bar.t'), 'yyyy-MM-dd''T''HH:mm:ss[.SSS][XXX]'))"
        " AS `at`"
    ) in sql
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.bar.o') AS DOUBLE) AS `open`" in sql
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.bar.ok') AS BOOLEAN) AS `ok`" in sql
    assert "JSON_VALUE(`payload`, '$.bar.l') AS `label`" in sql
    assert "`day` DATE,\n  `at` TIMESTAMP(3),\n  `open` DOUBLE," in sql


def test_field_types_apply_without_a_contract() -> None:
    endpoint = _KAFKA + "    validation_rules:\n      field_types: {trade_id: int, price: float}\n"
    sql = compiled(doc(endpoint, _ICEBERG_MERGE))
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.id') AS BIGINT) AS `trade_id`" in sql
    assert "`trade_id` BIGINT,\n  `ticker` STRING,\n  `price` DOUBLE," in sql


def test_no_mapping_and_no_contract_keeps_the_raw_payload() -> None:
    endpoint = """\
        provider_type: kafka
        base_url: broker:9092
        mode: streaming
        endpoints:
          - name: events
            path: events
        sinks:
          - type: kafka
            kafka_topic: events.copy
            config: {bootstrap_servers: broker:9092}
        """
    sql = compiled(doc(endpoint))
    assert "CREATE TEMPORARY VIEW `events` AS\nSELECT `payload` FROM `events$source`;" in sql
    assert "CREATE TEMPORARY TABLE `sink0$kafka` (\n  `payload` STRING\n) WITH (" in sql


def test_no_mapping_reads_the_contract_columns_at_the_top_level() -> None:
    endpoint = _KAFKA.split("    field_mapping:")[0]
    sql = compiled(doc(endpoint, _CONTRACT, _ICEBERG_MERGE))
    assert "TRY_CAST(JSON_VALUE(`payload`, '$.trade_id') AS BIGINT) AS `trade_id`" in sql
    assert "JSON_VALUE(`payload`, '$.ticker') AS `ticker`" in sql


def test_config_templates_become_literals() -> None:
    endpoint = """\
        provider_type: kafka
        base_url: broker:9092
        mode: streaming
        config: {topic: prod.trades, venue: "O'Hare"}
        endpoints:
          - name: trades
            path: "{{ config.topic }}"
            field_mapping: {id: id, venue: "{{ config.venue }}"}
        """
    sql = compiled(
        doc(endpoint, _ICEBERG_MERGE.replace("ticker", "venue").replace("trade_id", "id"))
    )
    assert "'topic' = 'prod.trades'" in sql
    assert "'O''Hare' AS `venue`" in sql


def test_database_source_reads_columns_by_source_name() -> None:
    endpoint = """\
        provider_type: database
        base_url: jdbc:postgresql://db:5432/shop
        credentials_ref: vault://secret/t1/shop/db
        mode: batch
        endpoints:
          - name: orders
            path: /public.orders
            field_mapping: {order_id: id, total: amount, again: id}
            validation_rules: {field_types: {order_id: integer, total: number, again: integer}}
        sinks:
          - type: parquet
            config: {path: "s3://lake/orders"}
        """
    sql = compiled(doc(endpoint))
    assert (
        "CREATE TEMPORARY TABLE `orders$source` (\n  `id` BIGINT,\n  `amount` DOUBLE\n) WITH (\n"
        "  'connector' = 'jdbc',\n  'url' = 'jdbc:postgresql://db:5432/shop',\n"
        "  'table-name' = 'public.orders',\n"
        "  'username' = '{{ secrets.credentials.username }}',\n"
        "  'password' = '{{ secrets.credentials.password }}'\n);"
    ) in sql
    assert "  `id` AS `order_id`,\n  `amount` AS `total`,\n  `id` AS `again`\n" in sql
    assert "-- secret credentials = vault://secret/t1/shop/db" in sql
    assert "'format' = 'parquet'" in sql
    assert "INSERT INTO `sink0$parquet`\nSELECT `order_id`, `total`, `again`\nFROM `orders`;" in sql


def test_s3_source_is_a_file_source_of_json_lines() -> None:
    endpoint = """\
        provider_type: s3
        base_url: s3://landing/events/
        mode: streaming
        endpoints:
          - name: clicks
            path: /clicks
            field_mapping: {user: user.id}
        """
    sql = compiled(
        doc(endpoint, _ICEBERG_MERGE.replace("ticker", "user").replace("trade_id", "user"))
    )
    assert (
        "  'connector' = 'filesystem',\n  'path' = 's3://landing/events/clicks',\n"
        "  'source.monitor-interval' = '60s',\n  'format' = 'raw'\n"
    ) in sql
    assert "JSON_VALUE(`payload`, '$.user.id') AS `user`" in sql


def test_kafka_sink_plain_and_keyed() -> None:
    sinks = """\
        sinks:
          - type: kafka
            kafka_topic: trades.all
            config: {bootstrap_servers: "kafka://b:9092"}
          - type: kafka
            kafka_key_field: ticker
            config: {bootstrap_servers: "b:9092", topic: trades.latest}
          - type: kafka
            kafka_topic: trades.by_id
            config: {bootstrap_servers: "b:9092", primary_key: [trade_id, ticker]}
        """
    sql = compiled(doc(_KAFKA, sinks))
    assert (
        "  'connector' = 'kafka',\n  'topic' = 'trades.all',\n"
        "  'properties.bootstrap.servers' = 'b:9092',\n  'format' = 'json'\n);"
    ) in sql
    assert "  PRIMARY KEY (`ticker`) NOT ENFORCED\n) WITH (\n  'connector' = 'upsert-kafka'" in sql
    assert "'key.format' = 'json',\n  'value.format' = 'json'" in sql
    assert "PRIMARY KEY (`trade_id`, `ticker`) NOT ENFORCED" in sql
    assert sql.count("INSERT INTO") == 3
    assert sql.rstrip().endswith("END;")
    assert "\nEXECUTE STATEMENT SET\nBEGIN\nINSERT INTO `sink0$kafka`" in sql


def test_postgres_sink_upserts_only_with_merge() -> None:
    sinks = """\
        sinks:
          - type: postgres
            table_name: public.trades
            config:
              url: jdbc:postgresql://db/marts
              primary_key: trade_id
              credentials_ref: env:HEADWATER_SECRET_MARTS
          - type: postgres
            config:
              url: jdbc:postgresql://db/marts
              table: public.latest
              write_mode: merge
              primary_key: trade_id
        """
    sql = compiled(doc(_KAFKA, sinks))
    first, second = sql.split("CREATE TEMPORARY TABLE `sink")[1:]
    assert "PRIMARY KEY" not in first
    assert "'table-name' = 'public.trades'" in first
    assert "'username' = '{{ secrets.sink0_credentials.username }}'" in first
    assert "'password' = '{{ secrets.sink0_credentials.password }}'" in first
    assert "PRIMARY KEY (`trade_id`) NOT ENFORCED" in second
    assert "'table-name' = 'public.latest'" in second
    assert "username" not in second
    assert "-- secret sink0_credentials = env:HEADWATER_SECRET_MARTS" in sql


def test_overwrite_partitions_in_batch_is_insert_overwrite() -> None:
    sinks = """\
        sinks:
          - type: parquet
            partition_by: [ticker]
            config: {path: "file:///lake/trades", write_mode: overwrite_partitions}
          - type: iceberg
            table_name: market.trades
            config: {write_mode: overwrite_partitions}
        """
    sql = compiled(doc(_KAFKA.replace("mode: streaming", "mode: batch"), sinks))
    assert ") PARTITIONED BY (`ticker`) WITH (\n  'connector' = 'filesystem'," in sql
    assert "INSERT OVERWRITE `sink0$parquet`" in sql
    assert "INSERT OVERWRITE `headwater`.`market`.`trades`" in sql


def test_transforms_become_views_with_aliases_and_settings() -> None:
    transforms = """\
        transforms:
          - name: priced
            type: sql
            sql_query: "SELECT * FROM t WHERE price > 0;  "
            parameters: {views: {t: trades}}
          - name: latest
            type: flink
            flink_config: {table.exec.mini-batch.enabled: true, table.exec.state.ttl: 1 h}
            sql_query: |
              SELECT ticker, MAX(price) AS price FROM priced GROUP BY ticker -- keep; the max
        """
    sinks = """\
        sinks:
          - type: kafka
            kafka_topic: a
            config: {bootstrap_servers: "b:9092", source: priced}
        """
    sql = compiled(doc(_KAFKA, _CONTRACT, transforms, sinks))
    assert "CREATE TEMPORARY VIEW `t` AS\nSELECT * FROM `trades`;" in sql
    assert "CREATE TEMPORARY VIEW `priced` AS\nSELECT * FROM t WHERE price > 0;\n" in sql
    assert "GROUP BY ticker -- keep; the max\n;" in sql
    assert (
        "SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.state.ttl' = '1 h';"
    ) in sql
    assert "FROM `priced`;" in sql


def test_names_and_values_are_quoted_and_escaped() -> None:
    text = """\
        version: "1.2"
        name: "it's\\nDROP TABLE x; --"
        created_by: tester
        provider:
          name: ex
          display_name: Ex
          tenant_id: t1
          owner: data
          provider_type: kafka
          base_url: "b:9092"
          mode: streaming
          endpoints:
            - name: "odd `name` here"
              path: "topic'; DROP"
              field_mapping: {"we`ird col": "a b.it's"}
          sinks:
            - type: kafka
              kafka_topic: out
              config: {bootstrap_servers: "b:9092"}
        """
    sql = compiled(textwrap.dedent(text))
    header = sql.split("\n\n")[0].splitlines()
    assert header[0].startswith("-- Flink SQL for UIS spec `it's DROP TABLE x; --`")
    assert all(line.startswith("-- ") for line in header)
    assert "SET 'pipeline.name' = 'headwater-it''s\nDROP TABLE x; --';" in sql
    assert "CREATE TEMPORARY TABLE `odd ``name`` here$source` (" in sql
    assert "'topic' = 'topic''; DROP'" in sql
    assert "JSON_VALUE(`payload`, '$[''a b''][''it\\''s'']') AS `we``ird col`" in sql
    assert "FROM `odd ``name`` here`;" in sql


def test_inactive_endpoints_are_not_read() -> None:
    endpoints = _KAFKA + "  - name: old\n    path: old\n    is_active: false\n"
    sql = compiled(doc(endpoints, _ICEBERG_MERGE))
    assert "`old" not in sql


def test_output_is_deterministic() -> None:
    text = doc(_KAFKA, _CONTRACT, _ICEBERG_MERGE)
    options = CompileOptions()
    first = compile_flink(validate(text, grants=FILE_GRANTS, engine="flink"), options)
    assert compile_flink(validate(text, grants=FILE_GRANTS, engine="flink"), options) == first
    assert (
        compile_flink(validate(text, grants=FILE_GRANTS, engine="flink"), CompileOptions()) == first
    )


@pytest.mark.parametrize(
    ("query", "body", "single"),
    [
        ("SELECT 1", "SELECT 1", True),
        ("SELECT 1 ;\n ; ", "SELECT 1", True),
        ("SELECT ';' AS s", "SELECT ';' AS s", True),
        ("SELECT `a;b` FROM t", "SELECT `a;b` FROM t", True),
        ("SELECT 1 /* ; */", "SELECT 1 /* ; */", True),
        ("SELECT 1 -- done;", "SELECT 1 -- done;\n", True),
        ("SELECT 'it''s;' -- x", "SELECT 'it''s;' -- x\n", True),
        ("SELECT 1; SELECT 2", "SELECT 1; SELECT 2", False),
    ],
)
def test_query_body(query: str, body: str, single: bool) -> None:
    assert query_body(query) == (body, single)


@dataclass(frozen=True)
class Refusal:
    """A document compile_flink refuses: the code, path, and the marked value's position."""

    name: str
    text: str
    code: codes.Code
    path: str
    #: The value the issue points at, on the line marked `#!`.
    token: str
    engine: Engine = "flink"


def _kafka_with(fragment: str, sinks: str = _ICEBERG_MERGE) -> str:
    return doc(_KAFKA, fragment, sinks)


REFUSALS = [
    Refusal(
        "websocket source validated for flink",
        doc(
            "provider_type: websocket  #!",
            "mode: streaming",
            "endpoints: [{name: a, path: /a}]",
            "sinks: [{type: iceberg, table_name: a.b, config: {}}]",
        ),
        codes.SOURCE_ENGINE_UNSUPPORTED,
        "provider.provider_type",
        "websocket",
    ),
    Refusal(
        "two statements in one transform",
        _kafka_with(
            "transforms:\n  - name: t\n    type: sql\n"
            "    sql_query: SELECT 1; SELECT 2  #!\n" + _CONTRACT
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.transforms[0].sql_query",
        "SELECT 1",
    ),
    Refusal(
        "alias that names another view",
        _kafka_with(
            "transforms:\n  - name: t0\n    type: sql\n    sql_query: SELECT * FROM trades\n"
            "  - name: t\n    type: sql\n    sql_query: SELECT * FROM trades\n"
            "    parameters:\n      views:\n        trades: t0  #!\n" + _CONTRACT
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.transforms[1].parameters.views.trades",
        "t0",
    ),
    Refusal(
        "day partition transform",
        doc(
            _KAFKA,
            "sinks:\n  - type: iceberg\n    table_name: a.b\n    config: {}\n"
            "    partition_by:\n      - ticker\n      - days(traded_at)  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].partition_by[1]",
        "days(traded_at)",
    ),
    Refusal(
        "merge partition outside the key",
        doc(
            _KAFKA,
            "sinks:\n  - type: iceberg\n    table_name: a.b\n"
            "    config: {write_mode: merge, primary_key: trade_id}\n"
            "    partition_by:\n      - ticker  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].partition_by[0]",
        "ticker",
    ),
    Refusal(
        "merge into format version 1",
        doc(
            _KAFKA,
            "sinks:\n  - type: iceberg\n    table_name: a.b\n    config:\n"
            "      write_mode: merge\n      primary_key: trade_id\n      format-version: 1  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].config.format-version",
        "1",
    ),
    Refusal(
        "one catalog with two warehouses",
        doc(
            _KAFKA,
            "sinks:\n  - type: iceberg\n    table_name: a.b\n    config: {}\n"
            "  - type: iceberg\n    table_name: a.c\n    config:\n"
            "      warehouse: s3://other  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[1].config.warehouse",
        "s3://other",
    ),
    Refusal(
        "transform view without a contract",
        doc(
            _KAFKA,
            "transforms: [{name: t, type: sql, sql_query: SELECT * FROM trades}]",
            "sinks:\n  - type: iceberg  #!\n    table_name: a.b\n    config: {}\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0]",
        "type",
    ),
    Refusal(
        "no endpoint to read",
        doc(
            _KAFKA.replace("path: market.trades", "path: market.trades\n    is_active: false"),
            "sinks:\n  - type: kafka  #!\n    kafka_topic: t\n    config: {bootstrap_servers: b}\n",
        ),
        codes.SINK_SOURCE_UNKNOWN,
        "provider.sinks[0]",
        "type",
    ),
    Refusal(
        "overwrite while streaming",
        doc(
            _KAFKA,
            "sinks:\n  - type: iceberg\n    table_name: a.b\n"
            "    config:\n      write_mode: overwrite_partitions  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].config.write_mode",
        "overwrite_partitions",
    ),
    Refusal(
        "merge into parquet",
        doc(
            _KAFKA,
            "sinks:\n  - type: parquet\n    config:\n      path: /x\n      write_mode: merge  #!\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].config.write_mode",
        "merge",
    ),
    Refusal(
        "merge into postgres without a key",
        doc(
            _KAFKA,
            "sinks:\n  - type: postgres\n    table_name: a.b\n"
            "    config:\n      url: jdbc:postgresql://db/x  #!\n      write_mode: merge\n",
        ),
        codes.MERGE_WITHOUT_KEY,
        "provider.sinks[0].config",
        "url",
    ),
    Refusal(
        "kafka key differs from the primary key",
        doc(
            _KAFKA,
            "sinks:\n  - type: kafka\n    kafka_topic: t\n    kafka_key_field: ticker  #!\n"
            "    config: {bootstrap_servers: 'b:9092', primary_key: trade_id}\n",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.sinks[0].kafka_key_field",
        "ticker",
    ),
    Refusal(
        "many records per message",
        doc(
            _KAFKA.replace("path: market.trades", "path: t\n    response_path: $.rows[*]  #!"),
            _ICEBERG_MERGE,
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.endpoints[0].response_path",
        "$.rows[*]",
    ),
    Refusal(
        "fan-out variable in a mapping",
        _kafka_with("config: {fan_out: {ticker: [A, B]}}").replace(
            "ticker: sym", 'ticker: "{{ ticker }}"  #!'
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.endpoints[0].field_mapping.ticker",
        '"{{ ticker }}"',
    ),
    Refusal(
        "run parameter in a topic",
        _kafka_with("").replace("path: market.trades", 'path: "trades.{{ day }}"  #!'),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.endpoints[0].path",
        '"trades.{{ day }}"',
    ),
    Refusal(
        "kafka without base_url",
        doc(_KAFKA.replace("base_url: kafka://broker-1:9092,broker-2:9092\n", ""), _ICEBERG_MERGE),
        codes.BASE_URL_REQUIRED,
        "provider",
        "name: exchange",
    ),
    Refusal(
        "kafka credentials",
        _kafka_with("credentials_ref: env:HEADWATER_SECRET_KAFKA_SASL  #!"),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.credentials_ref",
        "env:HEADWATER_SECRET_KAFKA_SASL",
    ),
    Refusal(
        "nested column of a database table",
        doc(
            "provider_type: database",
            "base_url: jdbc:postgresql://db/x",
            "endpoints:\n  - name: o\n    path: orders\n    field_mapping:\n"
            "      total: amount.value  #!\n",
            "sinks: [{type: parquet, config: {path: /x}}]",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.endpoints[0].field_mapping.total",
        "amount.value",
    ),
    Refusal(
        "database table without columns",
        doc(
            "provider_type: database",
            "base_url: jdbc:postgresql://db/x",
            "endpoints:\n  - name: o  #!\n    path: orders\n",
            "sinks: [{type: parquet, config: {path: /x}}]",
        ),
        codes.ENGINE_FEATURE_UNSUPPORTED,
        "provider.endpoints[0]",
        "name: o",
    ),
]


def _refusal_issues(case: Refusal) -> tuple[Issue, ...]:
    result = validate(case.text, grants=FILE_GRANTS, engine=case.engine)
    with pytest.raises(CompileError) as raised:
        compile_flink(result, CompileOptions())
    assert raised.value.engine == "flink"
    return raised.value.issues


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case.name)
def test_refusal(case: Refusal) -> None:
    issues = _refusal_issues(case)
    found = [issue for issue in issues if issue.code == case.code.id and issue.path == case.path]
    assert found, [(i.code, i.path, i.message) for i in issues]
    issue = found[0]
    lines = case.text.splitlines()
    (line,) = [n for n, text in enumerate(lines, start=1) if "#!" in text] or [
        n for n, text in enumerate(lines, start=1) if case.token in text
    ][:1]
    assert (issue.line, issue.column) == (line, lines[line - 1].index(case.token) + 1)
    assert issue.severity is Severity.ERROR
    assert issue.message
    assert issue.hint


def test_refusals_are_reported_together_in_document_order() -> None:
    text = doc(
        _KAFKA.replace("path: market.trades", 'path: "t.{{ day }}"'),
        "sinks:\n  - type: parquet\n    config: {path: /tmp/t, write_mode: merge}\n"
        "  - type: iceberg\n    table_name: a.b\n    config: {}\n    partition_by: [days(ts)]\n",
    )
    with pytest.raises(CompileError) as raised:
        compile_flink(validate(text, grants=FILE_GRANTS, engine="flink"), CompileOptions())
    paths = [issue.path for issue in raised.value.issues]
    assert paths == [
        "provider.endpoints[0].path",
        "provider.sinks[0].config.write_mode",
        "provider.sinks[1].partition_by[0]",
    ]


def test_an_invalid_result_raises_its_own_errors() -> None:
    result: ValidationResult = validate(doc(_KAFKA, "sinks: []"), engine="flink")
    assert not result.valid
    with pytest.raises(CompileError) as raised:
        compile_flink(result, CompileOptions())
    assert raised.value.issues == result.errors


def _explain_module() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "deploy" / "local" / "flink_explain.py"
    spec = importlib.util.spec_from_file_location("flink_explain_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses resolve their string annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_explain_script_splits_compiled_sql_into_its_statements() -> None:
    transforms = """\
        transforms:
          - name: priced
            type: sql
            sql_query: "SELECT * FROM trades WHERE ticker <> 'a;b' -- c; d"
        """
    sinks = (
        _ICEBERG_MERGE + "  - type: kafka\n    kafka_topic: t\n    config: {bootstrap_servers: b}\n"
    )
    sql = compiled(doc(_KAFKA, _CONTRACT, transforms, sinks))
    statements = _explain_module().split_statements(sql)
    starts = [" ".join(s.text.split()[:3]) for s in statements]
    assert starts == [
        "SET 'pipeline.name' =",
        "SET 'parallelism.default' =",
        "SET 'execution.runtime-mode' =",
        "SET 'execution.checkpointing.interval' =",
        "CREATE TEMPORARY TABLE",
        "CREATE TEMPORARY VIEW",
        "CREATE TEMPORARY VIEW",
        "CREATE CATALOG `headwater`",
        "CREATE DATABASE IF",
        "CREATE TABLE IF",
        "CREATE TEMPORARY TABLE",
        "EXECUTE STATEMENT SET",
        "INSERT INTO `sink1$kafka`",
        "END",
    ]
    view = statements[6]
    assert view.text.endswith("WHERE ticker <> 'a;b' -- c; d")
    assert sql.splitlines()[view.line - 1] == "CREATE TEMPORARY VIEW `priced` AS"
