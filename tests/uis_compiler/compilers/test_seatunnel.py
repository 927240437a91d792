"""The SeaTunnel compiler: parsed HOCON values per plugin, and positioned CompileErrors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pyhocon import ConfigFactory, ConfigTree
from uis_docs import FILE_GRANTS

import uis_compiler
from uis_compiler import codes, validate
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.seatunnel import compile_seatunnel
from uis_compiler.exceptions import CompileError
from uis_compiler.types import Issue

EXAMPLES = Path(uis_compiler.__file__).parent / "examples"
UNSUPPORTED = codes.ENGINE_FEATURE_UNSUPPORTED.id
ICEBERG_SINK = """\
- type: iceberg
  table_name: market.quotes
  config: {}
"""
MAPPING = """\
  field_mapping:
    symbol: symbol
    price: price
"""


def spec(
    endpoints: str,
    sinks: str = ICEBERG_SINK,
    *,
    provider_type: str = "rest_api",
    base_url: str = "https://api.example.com",
    mode: str = "batch",
    config: str = "",
    transforms: str = "",
    top: str = "",
    provider: str = "",
) -> str:
    """A small valid UIS 1.2 document; the arguments are YAML written at their own level."""
    parts = {
        "provider": textwrap.indent(provider, "  "),
        "config": textwrap.indent(config, "    "),
        "endpoints": textwrap.indent(endpoints, "    "),
        "transforms": textwrap.indent(transforms, "    ") or "    []\n",
        "sinks": textwrap.indent(sinks, "    "),
    }
    return f"""\
version: "1.2"
name: demo
created_by: tests
{top}provider:
  name: demo
  display_name: Demo
  provider_type: {provider_type}
  base_url: {base_url}
  credentials_ref: env:HEADWATER_SECRET_DEMO_CREDENTIALS
  tenant_id: default
  owner: tests
  mode: {mode}
{parts["provider"]}  config:
    execution_engine: seatunnel
{parts["config"]}  endpoints:
{parts["endpoints"]}  transforms:
{parts["transforms"]}  sinks:
{parts["sinks"]}"""


def compiled(text: str) -> str:
    result = validate(text, grants=FILE_GRANTS, engine="seatunnel")
    assert result.valid, result.errors
    return compile_seatunnel(result, CompileOptions())


def compile_issues(text: str) -> tuple[Issue, ...]:
    result = validate(text, grants=FILE_GRANTS, engine="seatunnel")
    assert result.valid, result.errors
    with pytest.raises(CompileError) as caught:
        compile_seatunnel(result, CompileOptions())
    assert caught.value.engine == "seatunnel"
    return caught.value.issues


def plain(value: Any) -> Any:
    """pyhocon's tree as dicts; pyhocon keeps the quotes of keys that need them, drop those."""
    if isinstance(value, ConfigTree):
        return {key.strip('"'): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def plugins(text: str, section: str) -> list[tuple[str, dict[str, Any]]]:
    """Each plugin of a section, parsed on its own: SeaTunnel allows a plugin name twice."""
    lines = text.splitlines()
    if f"{section} {{}}" in lines:
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    name: str | None = None
    body: list[str] = []
    for line in lines[lines.index(f"{section} {{") + 1 :]:
        if line == "}":
            break
        if name is None:
            match = re.fullmatch(r"  ([A-Za-z0-9]+) \{", line)
            if match is not None:
                name, body = match.group(1), []
        elif line == "  }":
            found.append((name, plain(ConfigFactory.parse_string("\n".join(body)))))
            name = None
        else:
            body.append(line)
    return found


def only(text: str, section: str, plugin: str) -> dict[str, Any]:
    matching = [options for name, options in plugins(text, section) if name == plugin]
    assert len(matching) == 1, plugins(text, section)
    return matching[0]


def env(text: str) -> dict[str, Any]:
    found: dict[str, Any] = plain(ConfigFactory.parse_string(text)["env"])
    return found


def position(text: str, line_fragment: str, value: str) -> tuple[int, int]:
    """Line and column of ``value`` on the first line holding ``line_fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line_fragment in line:
            return number, line.index(value, line.index(line_fragment)) + 1
    raise AssertionError(f"{line_fragment!r} is not in the document")


# --- the examples ---------------------------------------------------------------------------


def test_openbrewerydb_compiles_to_a_paged_http_source() -> None:
    text = compiled((EXAMPLES / "openbrewerydb_paged.yaml").read_text())
    assert text.startswith("# SeaTunnel 2.3.11+")
    assert env(text) == {
        "job": {"name": "headwater-openbrewerydb_breweries", "mode": "BATCH"},
        "parallelism": 1,
    }
    http = only(text, "source", "Http")
    assert http["url"] == "https://api.openbrewerydb.org/v1/breweries"
    assert http["method"] == "GET"
    assert http["params"] == {"per_page": "200"}
    assert http["keep_page_param_as_http_param"] is True
    assert http["pageing"] == {
        "page_type": "PageNumber",
        "page_field": "page",
        "start_page_number": 1,
        "batch_size": 200,
    }
    # The response is a bare array: the whole body is the record list.
    assert "content_field" not in http
    assert list(http["schema"]["fields"]) == [
        "id", "name", "brewery_type", "city", "state_province", "country", "longitude",
        "latitude", "website_url",
    ]  # fmt: skip
    # An identity mapping of one source needs no FieldMapper: the source is the view.
    assert http["plugin_output"] == "breweries"
    ((name, sql),) = plugins(text, "transform")
    assert name == "Sql"
    assert sql["plugin_input"] == "breweries"
    assert sql["plugin_output"] == "breweries_typed"
    assert sql["query"].startswith("SELECT id, name") and sql["query"].endswith("FROM breweries")
    iceberg = only(text, "sink", "Iceberg")
    assert iceberg["plugin_input"] == "breweries_typed"
    assert (iceberg["catalog_name"], iceberg["namespace"], iceberg["table"]) == (
        "headwater",
        "reference",
        "breweries",
    )
    assert iceberg["iceberg"]["catalog"]["config"] == {
        "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        "uri": "jdbc:postgresql://127.0.0.1:5432/headwater_catalog",
        "warehouse": "file:///var/lib/headwater/warehouse",
        "jdbc.user": "headwater",
        "jdbc.password": "${catalog_password}",
    }
    assert iceberg["iceberg"]["table"]["partition-keys"] == "country"
    assert iceberg["iceberg"]["table"]["auto-create-props"] == {"format-version": "2"}
    # overwrite_partitions of a run that reads everything: the table is replaced.
    assert iceberg["data_save_mode"] == "DROP_DATA"


def test_polygon_cannot_compile_next_url_pagination_nor_months() -> None:
    text = (EXAMPLES / "polygon_stock_daily_bars.yaml").read_text()
    issues = compile_issues(text)
    assert [(i.code, i.path) for i in issues] == [
        (UNSUPPORTED, "provider.endpoints[0].pagination"),
        (UNSUPPORTED, "provider.sinks[0].partition_by[0]"),
    ]
    paging, partition = issues
    assert (paging.line, paging.column) == position(text, "pagination: cursor", "cursor")
    assert "next-page URL" in paging.message
    assert paging.hint == "use page or token-cursor pagination, or the Spark engine"
    assert (partition.line, partition.column) == position(text, "partition_by:", '"months')
    assert "months(bar_date)" in partition.message
    assert all(issue.severity is uis_compiler.Severity.ERROR for issue in issues)


def test_pokeapi_offset_pagination_is_refused() -> None:
    text = (EXAMPLES / "pokeapi_offset.yaml").read_text()
    (issue,) = compile_issues(text)
    assert (issue.code, issue.path) == (UNSUPPORTED, "provider.endpoints[0].pagination")
    assert (issue.line, issue.column) == position(text, "pagination: offset", "offset")
    assert "offset" in issue.message


def test_compiling_an_invalid_result_raises_its_errors() -> None:
    result = validate("name: broken\n", grants=FILE_GRANTS, engine="seatunnel")
    with pytest.raises(CompileError) as caught:
        compile_seatunnel(result, CompileOptions())
    assert caught.value.issues == result.errors
    assert caught.value.issues


# --- what cannot be expressed ---------------------------------------------------------------

ENDPOINT = """\
- name: quotes
  path: /v1/quotes
{extra}"""

REFUSED = [
    pytest.param(
        ENDPOINT.format(
            extra="  pagination: offset\n  pagination_config: {page_size: 50}\n" + MAPPING
        ),
        ICEBERG_SINK,
        "provider.endpoints[0].pagination",
        ("pagination: offset", "offset"),
        "never a computed offset",
        id="offset",
    ),
    pytest.param(
        ENDPOINT.format(
            extra="  pagination: cursor\n  pagination_config: {max_pages: 5}\n" + MAPPING
        ),
        ICEBERG_SINK,
        "provider.endpoints[0].pagination",
        ("pagination: cursor", "cursor"),
        "`$.next_url`",
        id="next-url-default",
    ),
    pytest.param(
        ENDPOINT.format(
            extra="  auth: oauth2\n  auth_config: {token_url: 'https://auth.example.com/t'}\n"
            + MAPPING
        ),
        ICEBERG_SINK,
        "provider.endpoints[0].auth",
        ("auth: oauth2", "oauth2"),
        "cannot fetch OAuth2 tokens",
        id="oauth2",
    ),
    pytest.param(
        ENDPOINT.format(extra="  auth: hmac\n  auth_config: {signature_header: X-Sig}\n" + MAPPING),
        ICEBERG_SINK,
        "provider.endpoints[0].auth",
        ("auth: hmac", "hmac"),
        "sign requests",
        id="hmac",
    ),
    pytest.param(
        ENDPOINT.format(extra="  method: PUT\n" + MAPPING),
        ICEBERG_SINK,
        "provider.endpoints[0].method",
        ("method: PUT", "PUT"),
        "GET and POST requests only",
        id="put",
    ),
    pytest.param(
        ENDPOINT.format(extra=MAPPING),
        "- type: iceberg\n  table_name: market.quotes\n  partition_by: [symbol, 'days(ts)']\n"
        "  config: {}\n",
        "provider.sinks[0].partition_by[1]",
        ("partition_by:", "'days"),
        "`days(ts)`",
        id="days-partition",
    ),
    pytest.param(
        ENDPOINT.format(extra="  query_params: {day: '{{ start_date }}'}\n" + MAPPING),
        "- type: iceberg\n  table_name: market.quotes\n"
        "  config: {write_mode: overwrite_partitions}\n",
        "provider.sinks[0].config.write_mode",
        ("write_mode:", "overwrite_partitions"),
        "depends on start_date",
        id="windowed-overwrite",
    ),
    pytest.param(
        ENDPOINT.format(extra="  query_params: {t: '{{ table_name }}'}\n" + MAPPING),
        ICEBERG_SINK,
        "provider.endpoints[0].query_params.t",
        ("{t: ", "'{{"),
        "reserves for itself",
        id="reserved-variable",
    ),
    pytest.param(
        ENDPOINT.format(extra=""),
        ICEBERG_SINK,
        "provider.endpoints[0]",
        ("- name: quotes", "name"),
        "no field_mapping",
        id="no-mapping",
    ),
]


@pytest.mark.parametrize(("endpoints", "sinks", "path", "where", "message"), REFUSED)
def test_refused_settings_are_positioned(
    endpoints: str, sinks: str, path: str, where: tuple[str, str], message: str
) -> None:
    text = spec(endpoints, sinks)
    (issue,) = compile_issues(text)
    assert (issue.code, issue.path) == (UNSUPPORTED, path)
    assert message in issue.message
    assert issue.hint
    assert (issue.line, issue.column) == position(text, *where)


def test_every_refusal_is_reported_at_once() -> None:
    endpoints = (
        ENDPOINT.format(extra="  pagination: offset\n  pagination_config: {page_size: 5}\n")
        + "- name: other\n  path: /other\n  auth: oauth2\n"
        "  auth_config: {token_url: 'https://auth.example.com/t'}\n"
    )
    issues = compile_issues(spec(endpoints))
    # Sorted by position: an endpoint's own issue sits on its first line, before its keys.
    assert [i.path for i in issues] == [
        "provider.endpoints[0]",
        "provider.endpoints[0].pagination",
        "provider.endpoints[1]",
        "provider.endpoints[1].auth",
    ]
    assert [i.line for i in issues] == sorted(i.line for i in issues)


@pytest.mark.parametrize(
    ("query", "what"),
    [
        ("SELECT q.symbol FROM quotes q JOIN quotes r ON q.symbol = r.symbol", "a JOIN"),
        ("SELECT symbol, max(price) AS top FROM quotes GROUP BY symbol", "GROUP BY"),
        ("SELECT symbol FROM quotes ORDER BY symbol", "ORDER BY"),
        ("SELECT symbol FROM (SELECT symbol FROM quotes) s", "a sub-query"),
    ],
)
def test_sql_the_transform_cannot_run_is_refused(query: str, what: str) -> None:
    transforms = f'- name: summary\n  type: sql\n  sql_query: "{query}"\n'
    issues = compile_issues(spec(ENDPOINT.format(extra=MAPPING), transforms=transforms))
    assert {i.path for i in issues} == {"provider.transforms[0].sql_query"}
    assert any(f"uses {what}" in i.message for i in issues)


def test_keywords_inside_string_literals_are_not_sql_features() -> None:
    transforms = (
        "- name: tagged\n  type: sql\n"
        "  sql_query: \"SELECT symbol, 'ORDER BY x' AS note FROM quotes\"\n"
    )
    text = compiled(spec(ENDPOINT.format(extra=MAPPING), transforms=transforms))
    assert only(text, "transform", "Sql")["plugin_input"] == "quotes"


def test_sql_input_is_the_one_view_named_in_from() -> None:
    endpoints = ENDPOINT.format(extra=MAPPING) + "- name: other\n  path: /o\n" + MAPPING
    transforms = (
        "- name: yearly\n  type: sql\n"
        "  sql_query: SELECT symbol, EXTRACT(YEAR FROM ts) AS y FROM Quotes\n"
    )
    text = compiled(spec(endpoints, transforms=transforms))
    assert only(text, "transform", "Sql")["plugin_input"] == "quotes"
    two = "- name: both\n  type: sql\n  sql_query: SELECT symbol FROM quotes, other\n"
    (issue,) = compile_issues(spec(endpoints, transforms=two))
    assert issue.path == "provider.transforms[0].sql_query"
    assert "must read exactly one view" in issue.message


# --- sources --------------------------------------------------------------------------------


def test_token_cursor_pagination() -> None:
    endpoint = ENDPOINT.format(
        extra="  pagination: cursor\n"
        "  pagination_config: {cursor_path: $.meta.next, cursor_param: after, max_pages: 9}\n"
        "  response_path: $.data\n" + MAPPING
    )
    http = only(compiled(spec(endpoint)), "source", "Http")
    assert http["pageing"] == {
        "page_type": "Cursor",
        "cursor_field": "after",
        "cursor_response_field": "$.meta.next",
    }
    assert http["keep_page_param_as_http_param"] is True
    # The reader reads with ALWAYS_RETURN_LIST, so content_field must select the records.
    assert http["content_field"] == "$.data[*]"
    assert "json_field" not in http


def test_page_pagination_without_a_page_size_stops_on_an_empty_page() -> None:
    endpoint = ENDPOINT.format(
        extra="  pagination: page\n  pagination_config: {page_param: p, start_page: 0}\n"
        "  response_path: $.items[*]\n" + MAPPING
    )
    http = only(compiled(spec(endpoint)), "source", "Http")
    assert http["pageing"]["batch_size"] == 1
    assert http["pageing"]["start_page_number"] == 0
    assert http["pageing"]["page_field"] == "p"
    assert http["content_field"] == "$.items[*]"
    assert "params" not in http


FAN_OUT_CONFIG = (
    'tickers: [AAPL, "BRK/B", "O\'NEIL"]\nfan_out:\n  ticker: \'{{ config.tickers }}\'\n'
)
FAN_OUT_ENDPOINT = """\
- name: bars
  path: /v2/aggs/{{ ticker }}
  query_params: {from: '{{ from_date }}', limit: 500}
  field_mapping:
    ticker: "{{ ticker }}"
    close: c
    volume: v
"""


def test_fan_out_makes_one_source_per_value_and_unions_them() -> None:
    text = compiled(spec(FAN_OUT_ENDPOINT, config=FAN_OUT_CONFIG))
    sources = plugins(text, "source")
    assert [name for name, _ in sources] == ["Http", "Http", "Http"]
    assert [options["plugin_output"] for _, options in sources] == ["bars_0", "bars_1", "bars_2"]
    assert [options["url"] for _, options in sources] == [
        "https://api.example.com/v2/aggs/AAPL",
        "https://api.example.com/v2/aggs/BRK%2FB",
        "https://api.example.com/v2/aggs/O%27NEIL",
    ]
    assert all(
        options["params"] == {"from": "${start_date}", "limit": "500"} for _, options in sources
    )
    transforms = plugins(text, "transform")
    assert [name for name, _ in transforms] == ["Sql", "Sql", "Sql", "FieldMapper"]
    assert [options["query"] for _, options in transforms[:3]] == [
        "SELECT c, v, 'AAPL' AS ticker FROM bars_0",
        "SELECT c, v, 'BRK/B' AS ticker FROM bars_1",
        "SELECT c, v, 'O''NEIL' AS ticker FROM bars_2",
    ]
    mapper = transforms[3][1]
    assert mapper["plugin_input"] == ["bars_0_vars", "bars_1_vars", "bars_2_vars"]
    assert mapper["plugin_output"] == "bars"
    assert mapper["field_mapper"] == {"ticker": "ticker", "c": "close", "v": "volume"}
    assert list(mapper["field_mapper"]) == ["ticker", "c", "v"]
    assert only(text, "sink", "Iceberg")["plugin_input"] == "bars"


def test_fan_out_without_template_columns_feeds_the_mapper_directly() -> None:
    endpoint = "- name: bars\n  path: /v2/{{ ticker }}\n  field_mapping: {close: c}\n"
    text = compiled(spec(endpoint, config="fan_out:\n  ticker: [A, B]\n"))
    mapper = only(text, "transform", "FieldMapper")
    assert mapper["plugin_input"] == ["bars_0", "bars_1"]
    assert mapper["field_mapper"] == {"c": "close"}


def test_auth_and_secrets_become_job_variables() -> None:
    endpoints = """\
- name: a
  path: /a
  auth: bearer
  headers: {X-Partner: '{{ secrets.partner }}'}
  field_mapping: {x: x}
- name: b
  path: /b
  auth: api_key
  auth_config: {location: query, param_name: apikey}
  field_mapping: {x: x}
- name: c
  path: /c
  auth: api_key
  auth_config: {header_name: X-Key, header_format: 'Key {{ api_key }}'}
  field_mapping: {x: x}
- name: d
  path: /d
  auth: basic
  field_mapping: {x: x}
"""
    top = "global_config:\n  secrets: {partner: 'env:HEADWATER_SECRET_PARTNER'}\n"
    text = compiled(
        spec(endpoints, "- type: iceberg\n  table_name: a.b\n  config: {source: a}\n", top=top)
    )
    by_output = {options["plugin_output"]: options for _, options in plugins(text, "source")}
    assert by_output["a"]["headers"] == {
        "Authorization": "Bearer ${credentials_token}",
        "X-Partner": "${secrets_partner}",
    }
    assert by_output["b"]["params"] == {"apikey": "${credentials_api_key}"}
    assert by_output["c"]["headers"] == {"X-Key": "Key ${credentials_api_key}"}
    assert by_output["d"]["headers"] == {"Authorization": "Basic ${credentials_basic}"}
    variables = text.splitlines()[1]
    assert variables.startswith("# Job variables, each passed as -i NAME=VALUE: ")
    for name in (
        "credentials_api_key",
        "credentials_basic",
        "credentials_token",
        "secrets_partner",
    ):
        assert name in variables
    assert (
        "env:HEADWATER_SECRET_PARTNER" not in text
        and "env:HEADWATER_SECRET_DEMO_CREDENTIALS" not in text
    )


def test_nested_fields_are_read_with_json_field_and_typed_from_the_contract() -> None:
    endpoint = """\
- name: trades
  path: /trades
  response_path: $.results
  field_mapping:
    price: quote.price
    size: quote.size
    day: day
    at: meta.time
    odd: "meta.odd key"
    ok: flags.ok
"""
    provider = """\
schema_contract:
  type: object
  properties:
    price: {type: number}
    size: {type: integer}
    day: {type: string, format: date}
    at: {type: string, format: date-time}
    ok: {type: boolean}
"""
    text = compiled(spec(endpoint, provider=provider))
    http = only(text, "source", "Http")
    assert "content_field" not in http  # json_field is ignored when content_field is set
    assert http["json_field"] == {
        "price": "$.results[*].quote.price",
        "size": "$.results[*].quote.size",
        "day": "$.results[*].day",
        "at": "$.results[*].meta.time",
        "odd": "$.results[*].meta['odd key']",
        "ok": "$.results[*].flags.ok",
    }
    assert http["schema"]["fields"] == {
        "price": "double",
        "size": "bigint",
        "day": "date",
        "at": "timestamp",
        "odd": "string",
        "ok": "boolean",
    }
    assert http["plugin_output"] == "trades"
    assert plugins(text, "transform") == []


def test_flat_fields_are_renamed_by_the_field_mapper() -> None:
    endpoint = "- name: q\n  path: /q\n  response_path: $.data[*]\n  field_mapping: {symbol: s, price: p}\n"
    text = compiled(spec(endpoint))
    http = only(text, "source", "Http")
    assert http["plugin_output"] == "q_0"
    assert http["content_field"] == "$.data[*]"
    assert http["schema"]["fields"] == {"s": "string", "p": "string"}
    mapper = only(text, "transform", "FieldMapper")
    assert mapper["plugin_input"] == "q_0"
    assert mapper["field_mapper"] == {"s": "symbol", "p": "price"}


def test_streaming_env_and_merged_seatunnel_env() -> None:
    top = (
        "global_config:\n  seatunnel_env:\n    parallelism: 8\n"
        "    checkpoint.timeout: 60000\n    custom_parameters: {a.b: x}\n"
    )
    provider = "parallelism: 3\nretry_config: {max_attempts: 4, backoff_seconds: 20}\n"
    endpoint = ENDPOINT.format(extra=MAPPING)
    text = compiled(spec(endpoint, mode="streaming", top=top, provider=provider))
    assert env(text) == {
        "job": {
            "name": "headwater-demo",
            "mode": "STREAMING",
            "retry": {"times": 3, "interval": {"seconds": 20}},
        },
        "parallelism": 8,
        "checkpoint": {"interval": 10000, "timeout": 60000},
        "custom_parameters": {"a.b": "x"},
    }
    assert only(text, "source", "Http")["poll_interval_millis"] == 60000


@pytest.mark.parametrize(("mode", "job_mode"), [("batch", "BATCH"), ("micro_batch", "BATCH")])
def test_batch_modes(mode: str, job_mode: str) -> None:
    result = env(compiled(spec(ENDPOINT.format(extra=MAPPING), mode=mode)))
    assert result["job"]["mode"] == job_mode
    assert "checkpoint" not in result


def test_kafka_source_and_sinks() -> None:
    endpoint = "- name: events\n  path: events.v1\n  field_mapping: {id: event_id, kind: type}\n"
    sinks = """\
- type: kafka
  kafka_topic: out
  kafka_key_field: id
  config: {bootstrap_servers: [b1:9092, b2:9092]}
- type: clickhouse
  clickhouse_table: analytics.events
  config: {host: "ch:8123", credentials_ref: env:HEADWATER_SECRET_CH, write_mode: merge, primary_key: id}
- type: elasticsearch
  config: {hosts: ["es:9200"], index: events, primary_key: [id]}
"""
    text = compiled(
        spec(endpoint, sinks, provider_type="kafka", base_url="kafka://k1:9092,k2:9092")
    )
    kafka = only(text, "source", "Kafka")
    assert kafka["topic"] == "events.v1"
    assert kafka["bootstrap"]["servers"] == "k1:9092,k2:9092"
    assert kafka["consumer"]["group"] == "headwater-demo"
    assert kafka["format"] == "json"
    assert kafka["schema"]["fields"] == {"event_id": "string", "type": "string"}
    out = only(text, "sink", "Kafka")
    assert (out["topic"], out["bootstrap"]["servers"]) == ("out", "b1:9092,b2:9092")
    assert out["partition_key_fields"] == ["id"]
    clickhouse = only(text, "sink", "Clickhouse")
    assert clickhouse == {
        "plugin_input": "events",
        "host": "ch:8123",
        "database": "analytics",
        "table": "events",
        "username": "${sink1_credentials_username}",
        "password": "${sink1_credentials_password}",
        "primary_key": "id",
        "support_upsert": True,
    }
    elastic = only(text, "sink", "Elasticsearch")
    assert (elastic["hosts"], elastic["index"], elastic["primary_keys"]) == (
        ["es:9200"],
        "events",
        ["id"],
    )


def test_jdbc_source_selects_the_mapped_columns() -> None:
    endpoint = (
        "- name: orders\n  path: public.orders\n  field_mapping: {order_id: id, total: amount}\n"
    )
    text = compiled(
        spec(endpoint, provider_type="database", base_url="jdbc:postgresql://db:5432/shop")
    )
    jdbc = only(text, "source", "Jdbc")
    assert jdbc == {
        "plugin_output": "orders_0",
        "url": "jdbc:postgresql://db:5432/shop",
        "driver": "org.postgresql.Driver",
        "user": "${credentials_username}",
        "password": "${credentials_password}",
        "query": "SELECT id, amount FROM public.orders",
    }


def test_unknown_jdbc_url_is_refused() -> None:
    endpoint = "- name: orders\n  path: orders\n"
    text = spec(endpoint, provider_type="database", base_url="jdbc:oracle:thin:@db:1521/x")
    (issue,) = compile_issues(text)
    assert issue.path == "provider.base_url"
    assert (issue.line, issue.column) == position(text, "base_url:", "jdbc")


def test_s3_and_ftp_file_sources() -> None:
    s3 = compiled(
        spec(
            "- name: drops\n  path: in/{{ start_date }}.json\n  field_mapping: {a: a}\n",
            provider_type="s3",
            base_url="http://minio:9000/landing",
        )
    )
    source = only(s3, "source", "S3File")
    assert source["path"] == "/in/${start_date}.json"
    assert source["bucket"] == "s3a://landing"
    assert source["fs"]["s3a"]["endpoint"] == "http://minio:9000"
    assert source["file_format_type"] == "json"
    assert source["access_key"] == "${credentials_access_key}"
    assert source["hadoop_s3_properties"] == {"fs.s3a.path.style.access": "true"}
    ftp = compiled(
        spec(
            "- name: dump\n  path: dump.parquet\n",
            provider_type="file_ftp",
            base_url="ftp://f:2121/out",
        )
    )
    source = only(ftp, "source", "FtpFile")
    assert (source["host"], source["port"], source["path"]) == ("f", 2121, "/out/dump.parquet")
    assert source["file_format_type"] == "parquet"
    assert "schema" not in source


# --- sinks ----------------------------------------------------------------------------------


def test_iceberg_merge_upserts_on_the_primary_key() -> None:
    sinks = """\
- type: iceberg
  table_name: market.quotes
  partition_by: [symbol]
  config: {write_mode: merge, primary_key: [symbol, day], format-version: 2, catalog: lake,
           warehouse: "s3://lake/wh", properties: {write.format.default: parquet}}
"""
    endpoint = ENDPOINT.format(extra="  field_mapping: {symbol: s, day: d}\n")
    iceberg = only(compiled(spec(endpoint, sinks)), "sink", "Iceberg")
    table = iceberg["iceberg"]["table"]
    assert table["primary-keys"] == "symbol,day"
    assert table["upsert-mode-enabled"] is True
    assert table["partition-keys"] == "symbol"
    assert table["auto-create-props"] == {"format-version": "2", "write.format.default": "parquet"}
    assert iceberg["catalog_name"] == "lake"
    assert iceberg["iceberg"]["catalog"]["config"]["warehouse"] == "s3://lake/wh"
    assert "data_save_mode" not in iceberg


def test_postgres_and_parquet_sinks() -> None:
    sinks = """\
- type: postgres
  table_name: quotes
  config: {url: "jdbc:postgresql://db:5432/market", write_mode: merge, primary_key: [symbol],
           credentials_ref: env:HEADWATER_SECRET_PG}
- type: parquet
  partition_by: [symbol]
  config: {path: "s3://lake/quotes", credentials_ref: env:HEADWATER_SECRET_S3}
- type: parquet
  config: {path: "file:///data/quotes"}
"""
    text = compiled(spec(ENDPOINT.format(extra=MAPPING), sinks))
    assert only(text, "sink", "Jdbc") == {
        "plugin_input": "quotes",
        "url": "jdbc:postgresql://db:5432/market",
        "driver": "org.postgresql.Driver",
        "user": "${sink0_credentials_username}",
        "password": "${sink0_credentials_password}",
        "generate_sink_sql": True,
        "database": "market",
        "table": "public.quotes",
        "primary_keys": ["symbol"],
        "enable_upsert": True,
    }
    s3 = only(text, "sink", "S3File")
    assert (s3["bucket"], s3["path"], s3["file_format_type"]) == (
        "s3a://lake",
        "/quotes",
        "parquet",
    )
    assert s3["access_key"] == "${sink1_credentials_access_key}"
    assert (s3["have_partition"], s3["partition_by"]) == (True, ["symbol"])
    local = only(text, "sink", "LocalFile")
    assert (local["path"], local["file_format_type"]) == ("/data/quotes", "parquet")


def test_postgres_url_without_a_database_is_refused() -> None:
    sinks = "- type: postgres\n  table_name: quotes\n  config: {url: 'jdbc:postgresql://db:5432'}\n"
    text = spec(ENDPOINT.format(extra=MAPPING), sinks)
    (issue,) = compile_issues(text)
    assert issue.path == "provider.sinks[0].config.url"
    assert (issue.line, issue.column) == position(text, "config: {url:", "'jdbc")


# --- determinism ----------------------------------------------------------------------------


def test_output_is_byte_identical_across_compilations() -> None:
    text = spec(FAN_OUT_ENDPOINT, config=FAN_OUT_CONFIG)
    first = compiled(text)
    assert compiled(text) == first
    assert first.endswith("}\n")
    # Map order that carries no meaning (query parameters) does not change the output.
    swapped = text.replace(
        "{from: '{{ from_date }}', limit: 500}", "{limit: 500, from: '{{ from_date }}'}"
    )
    assert swapped != text
    assert compiled(swapped) == first
    brewery = (EXAMPLES / "openbrewerydb_paged.yaml").read_text()
    assert compiled(brewery) == compiled(brewery)


def test_post_bodies_get_a_json_content_type_and_variables() -> None:
    endpoint = """\
- name: search
  path: /graphql
  method: post
  body_template: '{"query": "{ items(since: \\"{{ start_date }}\\") { id } }"}'
  field_mapping: {id: id}
"""
    http = only(compiled(spec(endpoint, provider_type="graphql")), "source", "Http")
    assert http["method"] == "POST"
    assert http["headers"] == {"Content-Type": "application/json"}
    assert http["body"] == '{"query": "{ items(since: \\"${start_date}\\") { id } }"}'
