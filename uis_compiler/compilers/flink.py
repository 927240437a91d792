"""UIS → Flink SQL: one script of SET, CREATE and INSERT statements for Apache Flink 2.0.

The script is what the SQL client (``sql-client.sh -f``) or a PyFlink submitter runs: settings,
one source table and one mapping view per active endpoint, a view per transform, the sink tables
(Iceberg through ``CREATE CATALOG``), and the INSERTs, several of them in one
``EXECUTE STATEMENT SET`` so that they run as a single job.

Secrets stay placeholders. ``{{ secrets.NAME }}`` stands for the whole secret NAME and
``{{ secrets.NAME.KEY }}`` for one key of a secret that holds a mapping (``username`` and
``password`` of ``credentials``). Placeholders only ever appear inside single-quoted string
literals, and the header lists each NAME with its reference (``-- secret NAME = env:…``). The
submitter resolves them inside the running job and substitutes the value with single quotes
doubled; nothing in Headwater resolves them, so the text is safe to store and show.

Kafka and file sources are read as raw text, one JSON record per message or line, and
``field_mapping`` becomes ``JSON_VALUE`` expressions; a JDBC source is read column by column.
Iceberg tables are written through a catalog created with ``CREATE CATALOG``, never the
``'connector'='iceberg'`` table form, which copies every option (the catalog password too) into
the table's metadata.
"""

from __future__ import annotations

from uis_compiler import codes
from uis_compiler.columns import contract_columns
from uis_compiler.compilers.flink_build import Build, RuntimeMode
from uis_compiler.compilers.flink_sinks import sink_statements
from uis_compiler.compilers.flink_sources import source_statements
from uis_compiler.compilers.flink_sql import (
    comment,
    ident,
    literal,
    option_text,
    query_body,
    with_clause,
)
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.exceptions import CompileError
from uis_compiler.models import Transform
from uis_compiler.types import Issue, Path
from uis_compiler.validator import ValidationResult

_PROVIDER: Path = ("provider",)
_RUNTIME_MODES: dict[str, RuntimeMode] = {
    "batch": "batch",
    "micro_batch": "streaming",
    "streaming": "streaming",
}


def compile_flink(result: ValidationResult, options: CompileOptions) -> str:
    """Flink SQL for a validated spec; raises CompileError for what Flink cannot express."""
    if not result.valid or result.spec is None:
        raise CompileError("flink", result.errors)
    spec = result.spec
    build = Build(result, spec, options)
    build.contract = contract_columns(spec.provider.schema_contract)
    # The validator accepted these modes for Flink (see engines.CAPABILITIES).
    build.mode = _RUNTIME_MODES[spec.provider.mode]
    sources = source_statements(build)
    transforms = _transforms(build)
    sinks = [sink_statements(build, index, sink) for index, sink in enumerate(spec.provider.sinks)]
    if build.issues:
        raise CompileError("flink", tuple(sorted(build.issues, key=Issue.sort_key)))
    catalogs = _catalogs(build)
    ddl = [statement for group in sinks if group for statement in group.ddl]
    inserts = [group.insert for group in sinks if group]
    # The header is built last because it lists the secrets the statements registered.
    parts = [_settings(build), *sources, *transforms, *catalogs, *ddl, _inserts(inserts)]
    return "\n\n".join([_header(build), *(part for part in parts if part)]) + "\n"


def _header(build: Build) -> str:
    spec = build.spec
    lines = [
        comment(
            f"Flink SQL for UIS spec `{spec.name}` (provider `{spec.provider.name}`, "
            f"UIS {spec.version}), compiled by Headwater; edit the spec, not this file."
        ),
        comment("Target: Apache Flink 2.0 with the Kafka, JDBC, Iceberg and Parquet connectors."),
        comment(
            "Secrets are placeholders inside string literals: {{ secrets.NAME }} or "
            "{{ secrets.NAME.KEY }}; the submitter substitutes them inside the job."
        ),
    ]
    lines += [comment(f"secret {name} = {ref}") for name, ref in sorted(build.secrets.items())]
    return "\n".join(lines)


def _settings(build: Build) -> str:
    spec = build.spec
    settings: list[tuple[str, str]] = [
        ("pipeline.name", f"headwater-{spec.name}"),
        ("parallelism.default", str(spec.provider.parallelism)),
        ("execution.runtime-mode", build.mode),
    ]
    if build.mode == "streaming":
        settings.append(
            ("execution.checkpointing.interval", build.options.flink.checkpoint_interval)
        )
    extra: dict[str, str] = {}
    for transform in spec.provider.transforms:
        for key, value in (transform.flink_config or {}).items():
            extra[str(key)] = option_text(value)
    settings += sorted(extra.items())
    return "\n".join(f"SET {literal(key)} = {literal(value)};" for key, value in settings)


def _transforms(build: Build) -> list[str]:
    out: list[str] = []
    aliases: dict[str, str] = {}
    for index, transform in enumerate(build.spec.provider.transforms):
        path: Path = (*_PROVIDER, "transforms", index)
        out += _aliases(build, path, transform, aliases)
        body, single = query_body(transform.sql_query or "")
        if not single:
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                (*path, "sql_query"),
                f"transform `{transform.name}` holds several statements; a view is one query",
                "split it into one transform per query",
            )
            continue
        build.views[transform.name] = None
        out.append(f"CREATE TEMPORARY VIEW {ident(transform.name)} AS\n{body};")
    return out


def _aliases(build: Build, path: Path, transform: Transform, seen: dict[str, str]) -> list[str]:
    """``parameters.views`` aliases as views; Flink has one namespace, so an alias is global."""
    views = (transform.parameters or {}).get("views") or {}
    out: list[str] = []
    for alias, target in views.items():
        alias, target = str(alias), str(target)
        if alias == target or seen.get(alias) == target:
            continue
        if alias in seen or alias in build.views:
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                (*path, "parameters", "views", alias),
                f"alias `{alias}` already names another view; Flink views share one namespace",
                "give the alias a name no endpoint, transform or other alias uses",
            )
            continue
        seen[alias] = target
        out.append(f"CREATE TEMPORARY VIEW {ident(alias)} AS\nSELECT * FROM {ident(target)};")
    return out


def _catalogs(build: Build) -> list[str]:
    catalog = build.options.catalog
    out = []
    for name, warehouse in build.catalogs.items():
        options: list[tuple[str, str]] = [("type", "iceberg")]
        if build.options.flink.catalog_type == "hadoop":
            options += [("catalog-type", "hadoop"), ("warehouse", warehouse)]
        else:
            build.secrets["catalog_password"] = catalog.password_ref
            options += [
                ("catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog"),
                ("uri", catalog.uri),
                ("jdbc.user", catalog.user),
                ("jdbc.password", "{{ secrets.catalog_password }}"),
                ("warehouse", warehouse),
            ]
        out.append(f"CREATE CATALOG {ident(name)} {with_clause(options)};")
    return out


def _inserts(inserts: list[str]) -> str:
    if len(inserts) == 1:
        return inserts[0]
    return "EXECUTE STATEMENT SET\nBEGIN\n" + "\n\n".join(inserts) + "\nEND;"
