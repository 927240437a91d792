"""Every issue code, table-driven: a document that triggers it, where, and with what hint."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from uis_docs import document, marked_line

from uis_compiler import codes, validate
from uis_compiler.codes import CATALOGUE
from uis_compiler.source import ParseLimits
from uis_compiler.types import Engine, Issue


@dataclass(frozen=True)
class Case:
    code: codes.Code
    text: str | bytes
    #: Expected 1-based line; None means "the line with the #! marker".
    line: int | None = None
    column: int | None = None
    path: str | None = None
    hint: str | None = None
    strict: bool = False
    engine: Engine | None = None
    limits: ParseLimits = field(default_factory=ParseLimits)


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)

CASES: list[Case] = [
    # Parsing.
    Case(codes.YAML_SYNTAX, 'version: "1.2"\nname: [a, b\n', line=3),
    Case(codes.EMPTY_DOCUMENT, "# only a comment\n", line=1, column=1),
    Case(codes.ROOT_NOT_MAPPING, "- a\n- b\n", line=1, column=1),
    Case(codes.NOT_TEXT, b'version: "1.2"\nname: \xc3\x28\n', line=2, column=7),
    Case(codes.TOO_LARGE, "a: " + "x" * 200, limits=ParseLimits(max_bytes=100), line=1),
    Case(codes.ALIAS_EXPANSION, _BOMB, line=5),
    Case(codes.ALIAS_EXPANSION, "a: &a\n  b: *a\n", line=1, column=4),
    Case(codes.TOO_DEEP, "a: " + "[" * 70 + "]" * 70 + "\n", line=1),
    Case(codes.UNSUPPORTED_TAG, "name: !!binary aGVsbG8=\n", line=1, column=7),
    Case(codes.MULTIPLE_DOCUMENTS, "a: 1\n---\nb: 2\n", line=2),
    Case(codes.COMPLEX_KEY, "? [a, b]\n: 1\n", line=1, column=3),
    Case(
        codes.DUPLICATE_KEY,
        document(top="name: again  #!"),
        path="name",
        hint="remove the earlier entry",
    ),
    # Schema.
    Case(
        codes.MISSING_FIELD,
        document(replace={"created_by: tester\n": ""}),
        line=1,
        hint="add `created_by:`",
    ),
    Case(codes.WRONG_TYPE, document(provider="parallelism: many  #!"), path="provider.parallelism"),
    Case(
        codes.INVALID_CHOICE,
        document(provider="mode: batchy  #!"),
        path="provider.mode",
        hint="did you mean `batch`?",
    ),
    Case(codes.OUT_OF_RANGE, document(provider="parallelism: 0  #!"), path="provider.parallelism"),
    Case(
        codes.UNSUPPORTED_VERSION,
        document(replace={'version: "1.2"': 'version: "2.0"'}),
        line=1,
        column=10,
    ),
    Case(
        codes.INVALID_VALUE,
        document(sink="format-version: 7  #!"),
        path="provider.sinks[0].config.format-version",
    ),
    Case(codes.UNKNOWN_KEY_STRICT, document(top="mode: batch  #!"), strict=True, column=1),
    Case(
        codes.UNKNOWN_KEY,
        document(endpoint="respone_path: $.x  #!"),
        column=7,
        hint="did you mean `response_path`?",
    ),
    Case(
        codes.UNKNOWN_KEY,
        document(top="mode: batch  #!"),
        column=1,
        hint="`mode` belongs at `provider.mode`",
    ),
    Case(
        codes.NUMERIC_VERSION,
        document(replace={'version: "1.2"': "version: 1.2"}),
        line=1,
        hint='quote it: `version: "1.2"`',
    ),
    Case(
        codes.VERSION_ONLY_FIELD,
        document(top="schemaRef: items-value  #!", replace={'version: "1.2"': 'version: "1.1"'}),
        hint='set `version: "1.2"` at the top to use it',
    ),
    # Semantics.
    Case(
        codes.DUPLICATE_NAME,
        document(
            provider="transforms:\n  - name: items  #!\n    type: sql\n    sql_query: SELECT 1"
        ),
        path="provider.transforms[0].name",
    ),
    Case(
        codes.BASE_URL_REQUIRED,
        document(replace={"  base_url: https://api.example.com\n": ""}),
        path="provider",
    ),
    Case(
        codes.BASE_URL_INVALID,
        document(replace={"https://api.example.com": "api.example.com  #!"}),
    ),
    Case(
        codes.BASE_URL_INVALID,
        document(replace={"https://api.example.com": "http://127.0.0.1:PORT  #!"}),
        hint="write the port as digits after the host, e.g. `http://127.0.0.1:8010`",
    ),
    Case(codes.NO_SINKS, document(sinks="sinks: []  #!"), path="provider.sinks"),
    Case(codes.INVALID_CRON, document(provider='schedule_cron: "0 25 * * *"  #!')),
    Case(codes.INVALID_CRON, document(provider='schedule_cron: "0 0 30 2 *"  #!')),
    Case(codes.INVALID_CRON, document(provider='schedule_cron: "0 0 6 * * 1-5 2030"  #!')),
    Case(codes.INVALID_CRON, document(provider='schedule_cron: "@reboot"  #!')),
    Case(
        codes.UNKNOWN_TIMEZONE,
        document(provider="schedule_timezone: Europe/Lundon  #!"),
        hint="did you mean `Europe/London`?",
    ),
    Case(
        codes.PAGINATION_CONFIG_MISSING,
        document(endpoint="pagination: cursor"),
        line=12,
        column=7,
        path="provider.endpoints[0]",
    ),
    Case(
        codes.PAGINATION_VALUE_INVALID,
        document(endpoint="pagination: page\npagination_config:\n  page_size: 0  #!"),
    ),
    Case(
        codes.PAGINATION_VALUE_INVALID,
        document(endpoint="pagination: cursor\npagination_config:\n  cursor_path: $.next  #!"),
        hint="add e.g. `cursor_param: cursor`",
    ),
    Case(
        codes.RATE_LIMIT_CONFLICT,
        document(
            endpoint="rate_limit_group: shop\nrate_limit_per_second: 5",
            endpoints="- name: orders\n  path: /orders\n  rate_limit_group: shop\n"
            "  rate_limit_per_second: 10  #!",
        ),
    ),
    Case(codes.TEMPLATE_SYNTAX, document(endpoint='headers: {X-Trace: "{{ two words }}"}  #!')),
    Case(codes.TEMPLATE_SYNTAX, document(endpoint='headers: {X-Trace: "{{ open"}  #!')),
    Case(codes.TEMPLATE_UNKNOWN_SECRET, document(endpoint='headers: {X-K: "{{ secrets.k }}"}  #!')),
    Case(
        codes.TEMPLATE_UNKNOWN_CONFIG,
        document(
            provider="config: {region: eu}",
            endpoint='headers: {X-R: "{{ config.regoin }}"}  #!',
        ),
        hint="did you mean `region`?",
    ),
    Case(codes.CREDENTIAL_WITHOUT_REF, document(endpoint='headers: {X-K: "{{ api_key }}"}  #!')),
    Case(codes.SECRET_REF_INVALID, document(provider='credentials_ref: "env:"  #!')),
    Case(codes.SECRET_REF_INVALID, document(provider='credentials_ref: "vault://onlymount"  #!')),
    Case(
        codes.SECRET_REF_NOT_GRANTED,
        document(provider='credentials_ref: "env:HEADWATER_S3_SECRET_KEY"  #!'),
        path="provider.credentials_ref",
        hint="tenant `t1` may use `env:HEADWATER_SECRET_…`, `vault://secret/t1/…`",
    ),
    Case(
        codes.ALLOWED_ORIGIN_INVALID,
        document(provider="config: {allowed_origins: [https://cdn.example.com/x]}  #!"),
        path="provider.config.allowed_origins[0]",
    ),
    Case(
        codes.TABLE_PROPERTY_NOT_ALLOWED,
        document(sink="properties: {write.data.path: /tmp/elsewhere}  #!"),
        path='provider.sinks[0].config.properties["write.data.path"]',
    ),
    Case(
        codes.PYTHON_TRANSFORM_NOT_ALLOWED,
        document(
            provider="transforms:\n  - name: shaped\n    type: python\n"
            "    python_module: os  #!\n    python_function: system"
        ),
        path="provider.transforms[0].python_module",
    ),
    Case(
        codes.FILE_SINK_OUTSIDE_ROOT,
        document(sinks="sinks:\n  - type: parquet\n    config: {path: /etc/cron.d}  #!"),
        path="provider.sinks[0].config.path",
        hint="write under the tenant's file roots (none); a relative path is taken from there",
    ),
    Case(
        codes.TENANT_ID_INVALID,
        document(replace={"tenant_id: t1": "tenant_id: ../t2  #!"}),
        path="provider.tenant_id",
    ),
    Case(
        codes.SINK_ENGINE_UNSUPPORTED,
        document(
            sinks="sinks:\n  - type: clickhouse  #!\n    config: {host: ch:8123}\n"
            "    clickhouse_table: items"
        ),
        hint="set `provider.config.execution_engine` to seatunnel",
    ),
    Case(
        codes.SOURCE_ENGINE_UNSUPPORTED,
        document(replace={"provider_type: rest_api": "provider_type: websocket  #!"}),
        hint="let the receiver write into a Kafka topic and read the topic with Flink",
    ),
    Case(
        codes.MODE_ENGINE_UNSUPPORTED,
        document(provider="mode: websocket  #!\nconfig: {execution_engine: spark}"),
    ),
    Case(
        codes.TRANSFORM_ENGINE_UNSUPPORTED,
        document(provider="transforms:\n  - name: t\n    type: wasm  #!\n    wasm_module: oci://m"),
    ),
    Case(
        codes.SINK_SOURCE_UNKNOWN, document(sink="source: itemz  #!"), hint="did you mean `items`?"
    ),
    Case(
        codes.MERGE_WITHOUT_KEY,
        document(replace={"write_mode: append": "write_mode: merge"}),
        path="provider.sinks[0].config",
    ),
    Case(codes.TABLE_NAME_INVALID, document(replace={"shop.items": "items  #!"})),
    Case(
        codes.PARTITION_INVALID,
        document(
            sink="",
            replace={"      config:": '      partition_by: ["month(ts)"]  #!\n      config:'},
        ),
    ),
    Case(
        codes.SINK_CONFIG_MISSING,
        document(sinks="sinks:\n  - type: parquet\n    config: {compression: snappy}  #!"),
    ),
    Case(
        codes.TRANSFORM_INCOMPLETE,
        document(provider="transforms:\n  - name: t  #!\n    type: sql"),
        line=None,
        path="provider.transforms[0]",
    ),
    Case(
        codes.VIEW_UNKNOWN,
        document(
            provider="transforms:\n  - name: t\n    type: sql\n    sql_query: SELECT 1\n"
            "    parameters: {views: {a: ghost}}  #!"
        ),
    ),
    Case(codes.FAN_OUT_INVALID, document(provider="config: {fan_out: {ticker: AAPL}}  #!")),
    Case(
        codes.FAN_OUT_INVALID,
        document(provider='config: {fan_out: {ticker: "{{ config.nothing }}"}}  #!'),
    ),
    Case(codes.FIELD_PATH_INVALID, document(endpoint='field_mapping: {bad: "a..b"}  #!')),
    Case(codes.FIELD_PATH_INVALID, document(endpoint='field_mapping: {t: "x {{ ticker }}"}  #!')),
    Case(
        codes.SCHEMA_CONTRACT_INVALID,
        document(provider="schema_contract: {type: objekt}  #!"),
    ),
    Case(
        codes.SCHEMA_CONTRACT_INVALID,
        document(provider="schema_contract: {type: array}  #!"),
    ),
    Case(
        codes.RULE_FIELD_UNKNOWN,
        document(endpoint="validation_rules: {required_fields: [idd]}  #!"),
        hint="did you mean `id`?",
    ),
    Case(
        codes.RANGE_INVALID,
        document(endpoint="validation_rules: {numeric_ranges: {price: [10, 1]}}  #!"),
    ),
    Case(
        codes.JSON_PATH_INVALID,
        document(replace={"response_path: $.data": "response_path: data.items  #!"}),
    ),
    Case(
        codes.SPARK_CONFIG_NOT_ALLOWED,
        document(provider="config: {spark_config: {spark.jars: /tmp/evil.jar}}  #!"),
    ),
    Case(
        codes.RETRY_CONFIG_INVALID,
        document(provider="retry_config: {backoff_seconds: 10, max_backoff_seconds: 1}  #!"),
    ),
    Case(
        codes.AUTH_CONFIG_INCOMPLETE,
        document(
            provider="credentials_ref: env:HEADWATER_SECRET_SHOP", endpoint="auth: oauth2  #!"
        ),
    ),
    Case(
        codes.AUTH_CONFIG_INCOMPLETE,
        document(
            provider="credentials_ref: env:HEADWATER_SECRET_SHOP",
            endpoint="auth: api_key\nauth_config: {location: query}  #!",
        ),
    ),
    Case(
        codes.RULE_TYPE_UNKNOWN,
        document(endpoint="validation_rules: {field_types: {price: money}}  #!"),
    ),
    Case(
        codes.WRITE_MODE_INVALID,
        document(replace={"write_mode: append": "write_mode: upsert  #!"}),
    ),
    Case(
        codes.TEMPLATE_NOT_ALLOWED,
        document(
            top="global_config: {secrets: {k: env:HEADWATER_SECRET_K}}",
            endpoint='headers: {X-T: "{{ secrets.k }}"}\nfield_mapping: {leak: "{{ secrets.k }}"}  #!',
            replace={"      field_mapping:\n        id: id\n        price: price\n": ""},
        ),
    ),
    Case(
        codes.INSECURE_BASE_URL,
        document(replace={"https://api.example.com": "http://api.example.com  #!"}),
    ),
    Case(
        codes.TEMPLATE_RUN_PARAMETER,
        document(endpoint='query_params: {region: "{{ region }}"}  #!'),
    ),
    Case(codes.SECRET_REF_UNKNOWN_SCHEME, document(provider='credentials_ref: "k8s://ns/x"  #!')),
    Case(codes.LITERAL_SECRET, document(endpoint="headers: {X-API-Key: abcdefghijk12345}  #!")),
    Case(codes.LITERAL_SECRET, document(endpoint="query_params: {apiKey: abcdefghijk12345}  #!")),
    Case(
        codes.LITERAL_SECRET,
        document(
            replace={
                "base_url: https://api.example.com": "base_url: https://u:pw-1@api.example.com  #!"
            }
        ),
        path="provider.base_url",
    ),
    Case(
        codes.LITERAL_SECRET,
        document(replace={"path: /items": "path: /items?apiKey=abcdefghijk12345  #!"}),
        path="provider.endpoints[0].path",
    ),
    Case(
        codes.LITERAL_SECRET,
        document(
            sinks="sinks:\n  - type: postgres\n    table_name: items\n    config:\n"
            "      url: jdbc:postgresql://db:5432/marts?user=ingest&password=pw-9d8c7b  #!"
        ),
        path="provider.sinks[0].config.url",
    ),
    Case(codes.CREDENTIALS_MISSING, document(endpoint="auth: bearer  #!")),
    Case(
        codes.PAGINATION_CONFIG_IGNORED,
        document(endpoint="pagination_config: {page_size: 50}  #!"),
    ),
    Case(
        codes.PAGINATION_KEY_UNUSED,
        document(endpoint="pagination: offset\npagination_config:\n  page_param: p  #!"),
    ),
    Case(
        codes.FAN_OUT_UNUSED,
        document(provider="config:\n  fan_out:\n    ticker: [A, B]  #!"),
        column=7,
    ),
    Case(
        codes.OVERWRITE_UNBOUNDED,
        document(
            replace={
                "write_mode: append": "write_mode: overwrite_partitions  #!",
                "path: /items": "path: /items/{{ start_date }}",
            }
        ),
        path="provider.sinks[0].config.write_mode",
        hint="partition by a time transform of the column that carries the rows' date (e.g. "
        '`partition_by: ["months(bar_date)"]`), or use `write_mode: merge` with a primary_key',
    ),
    Case(
        codes.OVERWRITE_UNBOUNDED,
        document(replace={"write_mode: append": "write_mode: overwrite_partitions  #!"}),
        path="provider.sinks[0].config.write_mode",
    ),
    Case(
        codes.NO_ACTIVE_ENDPOINTS,
        document(endpoint="is_active: false"),
        path="provider.endpoints",
    ),
]


def _found(case: Case) -> list[Issue]:
    result = validate(case.text, strict=case.strict, engine=case.engine, limits=case.limits)
    return [issue for issue in result.issues if issue.code == case.code.id]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code.id}-{i}" for i, c in enumerate(CASES)])
def test_issue_code(case: Case) -> None:
    found = _found(case)
    assert found, f"expected {case.code.id}, got {validate(case.text).issues}"
    expected_line = case.line
    if expected_line is None and isinstance(case.text, str) and "#!" in case.text:
        expected_line = marked_line(case.text)
    if expected_line is not None:
        at_line = [issue for issue in found if issue.line == expected_line]
        assert at_line, f"{case.code.id} expected at line {expected_line}: {found}"
        found = at_line
    issue = found[0]
    assert issue.severity is case.code.severity
    assert issue.message.strip() and issue.hint != ""
    if case.column is not None:
        assert issue.column == case.column, issue
    if case.path is not None:
        assert issue.path == case.path, issue
    if case.hint is not None:
        assert issue.hint == case.hint, issue


def test_errors_make_the_document_invalid_and_warnings_do_not() -> None:
    for case in CASES:
        result = validate(case.text, strict=case.strict, engine=case.engine, limits=case.limits)
        has_error = any(issue.is_error for issue in result.issues)
        assert result.valid is (not has_error and result.spec is not None)


#: Codes that only compilation reports (tested with the compilers).
COMPILE_ONLY = {codes.ENGINE_FEATURE_UNSUPPORTED.id}


def test_every_code_has_a_case() -> None:
    covered = {case.code.id for case in CASES} | COMPILE_ONLY
    assert sorted(set(CATALOGUE) - covered) == []


def test_base_document_is_valid_with_no_issues() -> None:
    result = validate(document())
    assert result.valid
    assert result.issues == ()
