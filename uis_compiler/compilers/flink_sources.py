"""Flink SQL for a spec's sources: a raw or JDBC table per active endpoint and its mapping view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from uis_compiler import codes, jsonpath
from uis_compiler.columns import TYPE_NAMES, ColumnType
from uis_compiler.compilers.flink_sql import (
    Column,
    comment,
    create_table,
    ident,
    json_value,
    literal,
    select_list,
    typed,
)
from uis_compiler.compilers.resolve import canonical, config_value
from uis_compiler.templates import VariableKind, classify, expressions, is_single_template

if TYPE_CHECKING:
    from uis_compiler.compilers.flink_build import Build
    from uis_compiler.models import Endpoint
    from uis_compiler.types import Path

_PROVIDER: Path = ("provider",)


def source_statements(build: Build) -> list[str]:
    """A source table and a view per active endpoint (issues reported on ``build``)."""
    base = _base_url(build)
    _check_credentials(build)
    return [
        _source(build, index, endpoint, base)
        for index, endpoint in enumerate(build.spec.provider.endpoints)
        if endpoint.is_active
    ]


def _source(build: Build, index: int, endpoint: Endpoint, base: str | None) -> str:
    path: Path = (*_PROVIDER, "endpoints", index)
    provider = build.spec.provider
    resolved = _resolved(build, (*path, "path"), endpoint.path)
    # After a reported problem the statements are never used, but building them anyway lets
    # the sinks see this view's columns, so they report only their own problems.
    location = resolved or ""
    if base is None:
        base = ""
    raw = f"{endpoint.name}$source"
    if provider.provider_type == "database":
        return _jdbc_source(build, path, endpoint, raw, base, location.lstrip("/"))
    options: list[tuple[str, str]]
    if provider.provider_type == "kafka":
        options = [
            ("connector", "kafka"),
            ("topic", location),
            ("properties.bootstrap.servers", base.removeprefix("kafka://")),
            ("properties.group.id", f"headwater-{build.spec.name}"),
            # group-offsets resumes where the last run stopped; a new group would otherwise
            # fail, because the connector's default reset strategy is `none`.
            ("scan.startup.mode", "group-offsets"),
            ("properties.auto.offset.reset", "earliest"),
        ]
        if build.mode == "batch":
            options.append(("scan.bounded.mode", "latest-offset"))
    else:
        options = [("connector", "filesystem"), ("path", _join(base, location))]
        if build.mode == "streaming":
            options.append(("source.monitor-interval", build.options.flink.checkpoint_interval))
    options.append(("format", "raw"))
    table = create_table(ident(raw), [Column("payload")], options)
    mapped = _json_columns(build, path, endpoint)
    if mapped is None:
        build.views[endpoint.name] = [Column("payload")]
        view = f"SELECT {ident('payload')} FROM {ident(raw)}"
    else:
        build.views[endpoint.name] = [column for column, _ in mapped]
        items = [(expr, column.name) for column, expr in mapped]
        view = f"SELECT\n{select_list(items)}\nFROM {ident(raw)}"
    return (
        f"{comment(f'Source: endpoint {endpoint.name}')}\n{table}\n\n"
        f"CREATE TEMPORARY VIEW {ident(endpoint.name)} AS\n{view};"
    )


def _json_columns(build: Build, path: Path, endpoint: Endpoint) -> list[tuple[Column, str]] | None:
    """Each column with its JSON_VALUE expression; None when the record stays raw text."""
    prefix = _record_prefix(build, path, endpoint)
    mapping = endpoint.field_mapping
    if mapping is None:
        if not build.contract:
            return None
        mapping = {name: name for name in build.contract}
    out: list[tuple[Column, str]] = []
    for name, source in mapping.items():
        column = Column(name, _column_type(build, endpoint, name))
        if is_single_template(source):
            constant = _constant(build, (*path, "field_mapping", name), source)
            out.append((column, typed(constant, column.type)))
        else:
            steps = (*prefix, *jsonpath.parse_field(source))
            out.append((column, json_value("payload", steps, column.type)))
    return out


def _record_prefix(build: Build, path: Path, endpoint: Endpoint) -> tuple[jsonpath.Step, ...]:
    """Where the record sits inside each message (``response_path``); one record per message."""
    steps = jsonpath.parse(endpoint.response_path or "$")
    if any(step is None for step in steps):
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*path, "response_path"),
            f"`response_path: {endpoint.response_path}` selects many records per message; the "
            "Flink compiler reads one JSON record per Kafka message or file line",
            "write one record per message, or point `response_path` at a single object",
        )
        return ()
    return steps


def _jdbc_source(
    build: Build, path: Path, endpoint: Endpoint, raw: str, url: str, table_name: str
) -> str:
    mapping = endpoint.field_mapping
    if mapping is None:
        mapping = {name: name for name in build.contract}
    if not mapping:
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            path,
            f"endpoint `{endpoint.name}` maps no columns; Flink's JDBC table must declare them",
            "add `field_mapping` (column: source_column) or a `schema_contract`",
        )
        return ""
    table_columns: dict[str, Column] = {}
    items: list[tuple[str, str]] = []
    for name, source in mapping.items():
        kind = _column_type(build, endpoint, name)
        if is_single_template(source):
            constant = _constant(build, (*path, "field_mapping", name), source)
            items.append((typed(constant, kind), name))
            continue
        if "." in source:
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                (*path, "field_mapping", name),
                f"`{source}` is a nested path; a database table has flat columns",
                "map the column to a column name of the table",
            )
            continue
        table_columns.setdefault(source, Column(source, kind))
        items.append((ident(source), name))
    build.views[endpoint.name] = [Column(n, _column_type(build, endpoint, n)) for n in mapping]
    options = [("connector", "jdbc"), ("url", url), ("table-name", table_name)]
    reference = build.spec.provider.credentials_ref
    if reference is not None:
        build.secrets["credentials"] = reference
        options += [
            ("username", "{{ secrets.credentials.username }}"),
            ("password", "{{ secrets.credentials.password }}"),
        ]
    table = create_table(ident(raw), list(table_columns.values()), options)
    return (
        f"{comment(f'Source: endpoint {endpoint.name}')}\n{table}\n\n"
        f"CREATE TEMPORARY VIEW {ident(endpoint.name)} AS\n"
        f"SELECT\n{select_list(items)}\nFROM {ident(raw)};"
    )


def _column_type(build: Build, endpoint: Endpoint, name: str) -> ColumnType:
    rules = endpoint.validation_rules
    declared = (rules.field_types or {}).get(name) if rules is not None else None
    fallback = TYPE_NAMES.get(declared.lower(), "string") if declared else "string"
    return build.contract.get(name, fallback)


def _constant(build: Build, path: Path, template: str) -> str:
    """A ``{{ config.KEY }}`` column as a literal; other variables have no value in a stream."""
    (expr,) = expressions(template)
    variable = classify(expr, build.spec.provider.settings.fan_out or {})
    if variable.kind is VariableKind.CONFIG:
        return literal(config_value(build.spec, variable.name))
    build.report(
        codes.ENGINE_FEATURE_UNSUPPORTED,
        path,
        f"`{template}` is a {variable.kind.value} variable; a Flink job reads a stream and has "
        "no run parameters, fan-out values or window to fill it from",
        "map the column to a field of the record, or to a `{{ config.KEY }}` constant",
    )
    return "NULL"


def _check_credentials(build: Build) -> None:
    provider = build.spec.provider
    if provider.credentials_ref is not None and provider.provider_type in ("kafka", "s3"):
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*_PROVIDER, "credentials_ref"),
            f"Flink SQL cannot take `{provider.provider_type}` credentials from a spec: Kafka "
            "SASL and S3 keys are settings of the Flink cluster",
            "configure the credentials on the Flink cluster and remove `credentials_ref`",
        )


def _base_url(build: Build) -> str | None:
    provider = build.spec.provider
    if provider.base_url:
        return provider.base_url
    example = {
        "kafka": "kafka://broker-1:9092,broker-2:9092",
        "database": "jdbc:postgresql://db:5432/sales",
        "s3": "s3://bucket/prefix",
    }.get(provider.provider_type, "…")
    build.report(
        codes.BASE_URL_REQUIRED,
        _PROVIDER,
        f"a `{provider.provider_type}` provider compiled for Flink needs `base_url`",
        f"add e.g. `base_url: {example}`",
    )
    return None


def _resolved(build: Build, path: Path, text: str) -> str | None:
    """``text`` with ``{{ config.KEY }}`` inlined; None (reported) when other variables remain."""
    resolved = canonical(build.spec, text)
    if "{{" not in resolved:
        return resolved
    build.report(
        codes.ENGINE_FEATURE_UNSUPPORTED,
        path,
        f"`{text}` holds a variable other than `config.KEY`; a Flink job has no run "
        "parameters, fan-out values or window to fill it from",
        "write the topic, table or path literally, or use `{{ config.KEY }}`",
    )
    return None


def _join(base: str, location: str) -> str:
    if not location:
        return base
    return base.rstrip("/") + "/" + location.lstrip("/")
