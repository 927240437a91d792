"""UIS → an Apache SeaTunnel 2.3.11+ job config (HOCON) for the Zeta engine."""

# Each endpoint becomes one source per fan-out value (tables `<endpoint>_<n>`) and a FieldMapper
# that unions them into the endpoint's view; each sql transform a Sql transform; each sink a sink
# plugin. Secrets and run values stay `${name}` job variables, passed with `-i name=value`, so no
# secret is ever written into the config. Whatever SeaTunnel cannot express is a CompileError
# pointing at the spec's line and column, never a silent approximation.

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from uis_compiler.compilers import hocon
from uis_compiler.compilers.hocon import Block, Comment, Entry, Name, Value
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.seatunnel_context import (
    Context,
    Shape,
    endpoint_path,
    fan_out_values,
    is_sql_identifier,
    shape_of,
    sql_literal,
)
from uis_compiler.compilers.seatunnel_sinks import sink_plugin
from uis_compiler.compilers.seatunnel_sources import source_plugin
from uis_compiler.exceptions import CompileError
from uis_compiler.models import Endpoint, Transform
from uis_compiler.sinks import source_view
from uis_compiler.types import Path
from uis_compiler.validator import ValidationResult

TARGET = "SeaTunnel 2.3.11+ (Zeta engine)"
#: Iceberg and file sinks commit on checkpoints, so this bounds how stale a streaming table is.
CHECKPOINT_INTERVAL_MS = 10_000
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_LINE_COMMENT = re.compile(r"--[^\n]*")
_INPUT_TABLES = re.compile(
    r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)", re.IGNORECASE
)
#: What SeaTunnel's Sql transform refuses (one input, no aggregation, ordering or sub-queries).
_SQL_LIMITS = {
    "a JOIN": re.compile(r"\bJOIN\b", re.IGNORECASE),
    "GROUP BY": re.compile(r"\bGROUP\s+BY\b", re.IGNORECASE),
    "ORDER BY": re.compile(r"\bORDER\s+BY\b", re.IGNORECASE),
    "LIMIT": re.compile(r"\bLIMIT\b", re.IGNORECASE),
    "UNION": re.compile(r"\bUNION\b", re.IGNORECASE),
    "a sub-query": re.compile(r"\bFROM\s*\(", re.IGNORECASE),
}


@dataclass
class _Job:
    """The plugins compiled so far, and which plugin outputs make up each UIS view."""

    sources: list[Entry | Comment] = field(default_factory=list)
    transforms: list[Entry | Comment] = field(default_factory=list)
    sinks: list[Entry | Comment] = field(default_factory=list)
    views: dict[str, list[str]] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)

    def claim(self, ctx: Context, name: str, path: Path) -> str:
        """Register a plugin output name; two plugins writing one table would merge silently."""
        if name in self.outputs:
            ctx.unsupported(
                path,
                f"the SeaTunnel table name `{name}` would be produced twice (it is derived from "
                "endpoint and transform names)",
                "rename the endpoint or transform",
            )
        self.outputs.add(name)
        return name


def compile_seatunnel(result: ValidationResult, options: CompileOptions) -> str:
    """The SeaTunnel job config of a document validated for seatunnel; raises CompileError."""
    if not result.valid or result.spec is None:
        raise CompileError("seatunnel", result.errors)
    ctx = Context(result.document, result.spec, options)
    provider = ctx.spec.provider
    job = _Job()
    for index, endpoint in enumerate(provider.endpoints):
        if endpoint.is_active:
            _read(ctx, job, index, endpoint)
    for index, transform in enumerate(provider.transforms):
        _transform(ctx, job, index, transform)
    for index, sink in enumerate(provider.sinks):
        view = source_view(ctx.spec, sink) or ""
        name, block = sink_plugin(ctx, index, sink, job.views.get(view, [view]))
        job.sinks.append((name, block))
    if ctx.issues:
        unique = dict.fromkeys(ctx.issues)
        ordered = sorted(unique, key=lambda issue: (*issue.sort_key(), issue.message))
        raise CompileError("seatunnel", tuple(ordered))
    root = Block(
        (
            ("env", _env(ctx)),
            ("source", Block(tuple(job.sources))),
            ("transform", Block(tuple(job.transforms))),
            ("sink", Block(tuple(job.sinks))),
        )
    )
    return hocon.render(root, _header(ctx))


def _header(ctx: Context) -> tuple[str, ...]:
    spec = ctx.spec
    lines = [
        f"{TARGET} job `{spec.name}`, compiled by Headwater from UIS {spec.version}; "
        "regenerate it rather than editing it."
    ]
    if ctx.variables:
        names = [
            f"{name} ({note})" if note else name for name, note in sorted(ctx.variables.items())
        ]
        lines.append("Job variables, each passed as -i NAME=VALUE: " + ", ".join(names))
    return tuple(lines)


def _env(ctx: Context) -> Block:
    provider = ctx.spec.provider
    streaming = provider.mode == "streaming"
    # micro_batch runs are scheduled batches; SeaTunnel has only BATCH and STREAMING.
    env: dict[str, Value] = {
        "job.name": f"headwater-{ctx.spec.name}",
        "job.mode": "STREAMING" if streaming else "BATCH",
        "parallelism": provider.parallelism,
    }
    if streaming:
        env["checkpoint.interval"] = CHECKPOINT_INTERVAL_MS
    comments: list[Comment] = []
    retry = provider.retry_config
    if retry is not None:
        env["job.retry.times"] = retry.max_attempts - 1
        env["job.retry.interval.seconds"] = max(1, round(retry.backoff_seconds))
        comments.append(Comment("retry_config: SeaTunnel retries at a fixed interval, no backoff"))
    extra = ctx.spec.global_config.seatunnel_env if ctx.spec.global_config else None
    for key, value in (extra or {}).items():
        env[_option_key(str(key))] = _data(value)
    return Block((*comments, *env.items()))


def _option_key(key: str) -> str:
    """A seatunnel_env key as a SeaTunnel option path when it is one, else a single quoted key."""
    return key if all(_PLAIN_SEGMENT.match(part) for part in key.split(".")) else Name(key)


def _data(value: Any) -> Value:
    """User-written YAML as HOCON; nested keys are data, never option paths."""
    if isinstance(value, Mapping):
        return {Name(str(k)): _data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_data(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _read(ctx: Context, job: _Job, index: int, endpoint: Endpoint) -> None:
    """Sources for every fan-out value of one endpoint, then the mapper that forms its view."""
    path = endpoint_path(index)
    shape = shape_of(ctx.spec, endpoint)
    assignments = fan_out_values(ctx.spec, endpoint)
    # One source that already reads exactly the view's columns needs no mapper after it.
    direct = len(assignments) == 1 and (shape is None or _is_identity(shape))
    outputs: list[str] = []
    for number, fan_out in enumerate(assignments):
        name = endpoint.name if direct else f"{endpoint.name}_{number}"
        output = job.claim(ctx, name, (*path, "name"))
        job.sources.append(source_plugin(ctx, index, endpoint, shape, fan_out, output))
        if shape is not None and shape.constants:
            output = _constants(ctx, job, path, shape, fan_out, output)
        outputs.append(output)
    if shape is None or direct:
        job.views[endpoint.name] = outputs
        return
    mapper: dict[str, Value] = {Name(field): column for field, column in shape.mapper.items()}
    block = Block(
        (
            ("plugin_input", outputs[0] if len(outputs) == 1 else outputs),
            ("plugin_output", job.claim(ctx, endpoint.name, (*path, "name"))),
            ("field_mapper", mapper),
        )
    )
    job.transforms.append(("FieldMapper", block))
    job.views[endpoint.name] = [endpoint.name]


def _is_identity(shape: Shape) -> bool:
    return not shape.constants and all(k == v for k, v in shape.mapper.items())


def _constants(
    ctx: Context, job: _Job, path: Path, shape: Shape, fan_out: Mapping[str, str], table: str
) -> str:
    """A Sql transform adding the template columns (e.g. the fan-out ticker) to one source."""
    for name in (*shape.fields, *shape.constants):
        if not is_sql_identifier(name):
            ctx.unsupported(
                (*path, "field_mapping"),
                f"`{name}` would need quoting in the SQL that adds template columns, and "
                "SeaTunnel's SQL quoting is not documented",
                "name fields and columns with letters, digits and underscores",
            )
    values = [
        f"{sql_literal(ctx.text(template, fan_out, (*path, 'field_mapping', column)))} AS {column}"
        for column, template in shape.constants.items()
    ]
    output = job.claim(ctx, f"{table}_vars", (*path, "name"))
    query = f"SELECT {', '.join([*shape.fields, *values])} FROM {table}"
    options: tuple[Entry, ...] = (
        ("plugin_input", table),
        ("plugin_output", output),
        ("query", query),
    )
    job.transforms.append(("Sql", Block(options)))
    return output


def _transform(ctx: Context, job: _Job, index: int, transform: Transform) -> None:
    path: Path = ("provider", "transforms", index)
    if transform.type != "sql" or not transform.sql_query:
        ctx.unsupported(
            (*path, "type"),
            f"transform `{transform.name}` is not a sql transform; SeaTunnel runs only SQL",
            "write it as `type: sql`",
        )
        return
    query = transform.sql_query.strip()
    where = (*path, "sql_query")
    scanned = _LINE_COMMENT.sub(" ", _STRING_LITERAL.sub("''", query))
    for what, pattern in _SQL_LIMITS.items():
        if pattern.search(scanned):
            ctx.unsupported(
                where,
                f"transform `{transform.name}` uses {what}: SeaTunnel's Sql transform reads one "
                "input row at a time (no joins, aggregation, ordering, limits or sub-queries)",
                "move that step to the Spark engine, or write one row-wise SELECT",
            )
    # Other FROM targets are function arguments such as EXTRACT(YEAR FROM ts), not inputs.
    known = {name.lower(): name for name in job.views}
    named = (n.strip() for m in _INPUT_TABLES.finditer(scanned) for n in m.group(1).split(","))
    read = sorted({known.get(name.lower(), "") for name in named} - {""})
    view = read[0] if len(read) == 1 else None
    inputs = job.views[view] if view is not None else []
    if view is None:
        ctx.unsupported(
            where,
            f"transform `{transform.name}` must read exactly one view, named in FROM (it reads "
            f"{' and '.join(read) or 'none'}); SeaTunnel's Sql transform takes one input table",
            f"select FROM one of: {', '.join(job.views) or 'no views'}",
        )
    elif len(inputs) > 1:
        ctx.unsupported(
            where,
            f"view `{view}` is {len(inputs)} fan-out sources without a field_mapping to union them",
            f"add field_mapping to endpoint `{view}`",
        )
    options: tuple[Entry, ...] = (
        ("plugin_input", inputs[0] if inputs else ""),
        ("plugin_output", job.claim(ctx, transform.name, (*path, "name"))),
        ("query", query),
    )
    job.transforms.append(("Sql", Block(options)))
    job.views[transform.name] = [transform.name]
