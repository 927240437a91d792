"""Sink rules: a readable source view, table names, write modes, partitions, needed settings."""

from __future__ import annotations

from uis_compiler import codes
from uis_compiler.models import Sink
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.rules.provider import check_secret_ref, report_literal_secret
from uis_compiler.secrets import literal_in_url
from uis_compiler.sinks import (
    ICEBERG_KEYS,
    REQUIRED,
    WRITE_MODES,
    is_table_name,
    parse_partition,
    primary_key,
    setting,
    source_view,
    window_column,
    write_mode,
)
from uis_compiler.suggest import did_you_mean
from uis_compiler.table_properties import HINT as PROPERTIES_HINT
from uis_compiler.table_properties import refused as refused_properties
from uis_compiler.templates import (
    TemplateSyntaxError,
    VariableKind,
    classify,
    expressions,
    template_sites,
)
from uis_compiler.types import Path


def check_sinks(ctx: Context) -> None:
    for index, sink in enumerate(ctx.spec.provider.sinks):
        path: Path = (*PROVIDER, "sinks", index)
        _source(ctx, path, sink)
        _required(ctx, path, sink)
        if sink.type == "iceberg":
            _iceberg(ctx, path, sink)
        if sink.type == "parquet":
            _parquet(ctx, path, sink)
        for position, entry in enumerate(sink.partition_by or []):
            try:
                parse_partition(entry)
            except ValueError as exc:
                ctx.report(codes.PARTITION_INVALID, (*path, "partition_by", position), str(exc))
        _literal_secrets(ctx, path, sink)
        reference = sink.config.get("credentials_ref")
        if isinstance(reference, str):
            check_secret_ref(ctx, (*path, "config", "credentials_ref"), reference)


def _parquet(ctx: Context, path: Path, sink: Sink) -> None:
    folder = sink.config.get("path")
    if not isinstance(folder, str):
        return
    grant = ctx.grants.for_tenant(ctx.spec.provider.tenant_id)
    why = grant.file_sink_refusal(folder)
    if why is not None:
        roots = ", ".join(grant.file_roots) or "none"
        ctx.report(
            codes.FILE_SINK_OUTSIDE_ROOT,
            (*path, "config", "path"),
            why,
            f"write under the tenant's file roots ({roots}); a relative path is taken from there",
        )
    if write_mode(sink) == "overwrite_partitions" and not sink.partition_by:
        ctx.report(
            codes.FILE_SINK_OUTSIDE_ROOT,
            (*path, "config", "write_mode"),
            "overwrite_partitions on a Parquet sink without partition_by would delete every "
            "file in the folder, not only the run's",
            "add `partition_by` (e.g. the run's date column), or use `write_mode: append`",
        )


def _overwrite(ctx: Context, path: Path, sink: Sink) -> None:
    """overwrite_partitions replaces the rows of the run's window, found by a time partition.

    Without one the job can only replace whole partitions (or the whole table): it refuses a
    run whose requests depend on its window, and a run that reads everything replaces it all.
    """
    partition_by = [entry for entry in sink.partition_by or [] if isinstance(entry, str)]
    if window_column(partition_by) is not None:
        return
    window = sorted(_window_variables(ctx))
    hint = (
        "partition by a time transform of the column that carries the rows' date (e.g. "
        '`partition_by: ["months(bar_date)"]`), or use `write_mode: merge` with a primary_key'
    )
    whole = "whole partitions" if partition_by else "the whole table"
    if window:
        message = (
            f"each run reads one date window (its requests use {', '.join(window)}), but with "
            "no time partition (`days(col)`, `months(col)` …) overwrite_partitions cannot be "
            f"bounded to it: the job refuses such a run rather than replace {whole} with one "
            "window's rows"
        )
    elif not partition_by:
        message = (
            "overwrite_partitions on an unpartitioned table replaces the whole table with "
            "each run's rows (a full refresh: right only if every run reads everything)"
        )
    else:
        return  # every run reads everything: replacing the partitions it wrote is exact
    ctx.report(codes.OVERWRITE_UNBOUNDED, (*path, "config", "write_mode"), message, hint)


def _window_variables(ctx: Context) -> set[str]:
    """The window bounds (start_date, end_date) that some active endpoint's requests use."""
    found: set[str] = set()
    for endpoint_path, endpoint in ctx.endpoints():
        if not endpoint.is_active:
            continue
        for _, _, text in template_sites(endpoint_path, endpoint):
            try:
                names = expressions(text)
            except TemplateSyntaxError:
                continue  # reported by the variable rules
            for expr in names:
                variable = classify(expr, ctx.fan_out)
                if variable.kind is VariableKind.WINDOW:
                    found.add(variable.name)
    return found


def _literal_secrets(ctx: Context, path: Path, sink: Sink) -> None:
    """A connection URL with its password in it (`postgresql://u:pw@…`, `?password=…`)."""
    for key, value in sink.config.items():
        found = literal_in_url(value) if isinstance(value, str) else None
        if found is not None:
            report_literal_secret(ctx, (*path, "config", key), f"`config.{key}` holds {found}")


def _source(ctx: Context, path: Path, sink: Sink) -> None:
    view = source_view(ctx.spec, sink)
    if view is None or view in ctx.views:
        return
    key = "source" if "source" in sink.config else "source_table_name"
    ctx.report(
        codes.SINK_SOURCE_UNKNOWN,
        (*path, "config", key),
        f"sink reads view `{view}`, but no active endpoint or transform has that name",
        did_you_mean(view, ctx.views) or f"views: {', '.join(ctx.views) or 'none'}",
    )


def _required(ctx: Context, path: Path, sink: Sink) -> None:
    for alternatives in REQUIRED[sink.type]:
        if not any(setting(sink, name) for name in alternatives):
            ctx.report(
                codes.SINK_CONFIG_MISSING,
                (*path, "config") if alternatives[0].startswith("config.") else path,
                f"a `{sink.type}` sink needs `{'` or `'.join(alternatives)}`",
                f"add `{alternatives[0].removeprefix('config.')}:`"
                + (" under `config`" if alternatives[0].startswith("config.") else ""),
            )


def _iceberg(ctx: Context, path: Path, sink: Sink) -> None:
    properties = sink.config.get("properties")
    if isinstance(properties, dict):
        for name, why in refused_properties(properties):
            ctx.report(
                codes.TABLE_PROPERTY_NOT_ALLOWED,
                (*path, "config", "properties", name),
                why,
                PROPERTIES_HINT,
            )
    if not is_table_name(sink.table_name):
        ctx.report(
            codes.TABLE_NAME_INVALID,
            (*path, "table_name") if sink.table_name is not None else path,
            f"an Iceberg sink needs `table_name: namespace.table`; got `{sink.table_name}`",
            "e.g. `table_name: market_data.stock_daily_bars`",
        )
    mode = write_mode(sink)
    if mode not in WRITE_MODES:
        ctx.report(
            codes.WRITE_MODE_INVALID,
            (*path, "config", "write_mode"),
            f"`write_mode: {mode}` is not one of {', '.join(WRITE_MODES)}",
            did_you_mean(mode, WRITE_MODES),
        )
    elif mode == "merge" and not primary_key(sink):
        ctx.report(
            codes.MERGE_WITHOUT_KEY,
            (*path, "config"),
            "`write_mode: merge` needs `primary_key`: the columns that identify a row",
            "add e.g. `primary_key: [ticker, bar_date]`",
        )
    elif mode == "overwrite_partitions":
        _overwrite(ctx, path, sink)
    version = sink.config.get("format-version", 2)
    if version not in (1, 2, 3):
        ctx.report(
            codes.INVALID_VALUE,
            (*path, "config", "format-version"),
            f"`format-version: {version}` is not an Iceberg table format (1, 2 or 3)",
            "use 2 (row-level deletes, needed by merge)",
        )
    for key in sink.config:
        if key not in ICEBERG_KEYS:
            ctx.report(
                ctx.unknown_key,
                (*path, "config", key),
                f"`{key}` is not an Iceberg sink setting; it is ignored",
                did_you_mean(key, ICEBERG_KEYS),
                at_key=True,
            )
