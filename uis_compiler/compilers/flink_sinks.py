"""Flink SQL for UIS sinks: the sink table (or Iceberg table) and the INSERT that fills it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from uis_compiler import codes
from uis_compiler.compilers.flink_sql import Column, create_table, ident, option_text, qualified
from uis_compiler.compilers.resolve import sink_secret
from uis_compiler.sinks import parse_partition, primary_key, source_view, write_mode

if TYPE_CHECKING:
    from uis_compiler.compilers.flink_build import Build
    from uis_compiler.models import Sink
    from uis_compiler.types import Path


@dataclass(frozen=True, slots=True)
class SinkSQL:
    """The statements one sink needs: DDL, then the INSERT that belongs in the statement set."""

    ddl: tuple[str, ...]
    insert: str


def sink_statements(build: Build, index: int, sink: Sink) -> SinkSQL | None:
    """Statements for sink ``index``; None (with issues reported) when Flink cannot write it."""
    path: Path = ("provider", "sinks", index)
    view = source_view(build.spec, sink)
    if view is None:
        build.report(
            codes.SINK_SOURCE_UNKNOWN,
            path,
            "the sink has no view to write: the provider has no active endpoint or transform",
            "add an endpoint, or set `is_active: true` on one",
        )
        return None
    columns = _columns(build, path, view)
    if columns is None:
        return None
    mode = write_mode(sink)
    if mode == "overwrite_partitions" and (build.mode == "streaming" or sink.type == "kafka"):
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*path, "config", "write_mode"),
            "Flink overwrites partitions only with INSERT OVERWRITE in batch mode, and never "
            "into Kafka",
            "use `write_mode: append` or `merge`, or `mode: batch`",
        )
        return None
    if sink.type == "iceberg":
        return _iceberg(build, path, sink, view, columns)
    if sink.type == "kafka":
        return _kafka(build, index, path, sink, view, columns)
    if sink.type == "postgres":
        return _postgres(build, index, path, sink, view, columns)
    return _parquet(build, index, path, sink, view, columns)


def _columns(build: Build, path: Path, view: str) -> list[Column] | None:
    """The sink table's columns: schema_contract's, else those the endpoint view maps."""
    if build.contract:
        return [Column(name, kind) for name, kind in build.contract.items()]
    known = build.views.get(view)
    if known is not None:
        return known
    build.report(
        codes.ENGINE_FEATURE_UNSUPPORTED,
        path,
        f"the sink writes transform view `{view}`, whose columns Flink's CREATE TABLE needs "
        "declared up front",
        "add a `provider.schema_contract` with the output columns and their types",
    )
    return None


def _insert(target: str, view: str, columns: list[Column], *, overwrite: bool = False) -> str:
    names = ", ".join(ident(column.name) for column in columns)
    verb = "INSERT OVERWRITE" if overwrite else "INSERT INTO"
    return f"{verb} {target}\nSELECT {names}\nFROM {ident(view)};"


def _partitions(build: Build, path: Path, sink: Sink, key: list[str]) -> list[str] | None:
    """Identity partition columns; Flink DDL has no Iceberg transforms such as `days(ts)`."""
    columns: list[str] = []
    ok = True
    for position, entry in enumerate(sink.partition_by or []):
        part = parse_partition(entry)
        where = (*path, "partition_by", position)
        if part.transform != "identity":
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                where,
                f"`{entry}`: Flink's PARTITIONED BY takes plain columns, not Iceberg transforms",
                "create the table with Spark or Trino and drop `partition_by` here (Flink "
                "writes into an existing table's partition spec), or partition by a column that "
                f"holds the {part.transform} value",
            )
            ok = False
        elif key and write_mode(sink) == "merge" and part.column not in key:
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                where,
                f"`{part.column}` partitions the table but is not in `primary_key`; Iceberg's "
                "Flink upsert needs every partition column among the key columns",
                f"add `{part.column}` to `primary_key`",
            )
            ok = False
        else:
            columns.append(part.column)
    return columns if ok else None


def _iceberg(
    build: Build, path: Path, sink: Sink, view: str, columns: list[Column]
) -> SinkSQL | None:
    assert sink.table_name is not None
    config = sink.config
    key = primary_key(sink)
    partitions = _partitions(build, path, sink, key)
    catalog = str(config.get("catalog") or build.options.catalog.name)
    warehouse = str(config.get("warehouse") or build.options.catalog.warehouse)
    known = build.catalogs.setdefault(catalog, warehouse)
    if known != warehouse:
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*path, "config", "warehouse" if "warehouse" in config else "catalog"),
            f"catalog `{catalog}` is already used with warehouse `{known}`; one Flink catalog "
            "has one warehouse",
            "give this sink its own `catalog` name, or the same warehouse",
        )
    version = option_text(config.get("format-version", 2))
    mode = write_mode(sink)
    ok = partitions is not None and known == warehouse
    if mode == "merge" and version == "1":
        ok = False
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*path, "config", "format-version"),
            "Iceberg upserts write equality deletes, which format version 1 does not have",
            "set `format-version: 2`",
        )
    if not ok or partitions is None:
        return None
    namespace, table = sink.table_name.split(".")
    options = [("format-version", version)]
    if mode == "merge":
        options.append(("write.upsert.enabled", "true"))
    properties = config.get("properties") or {}
    options += sorted((str(k), option_text(v)) for k, v in properties.items())
    target = qualified(catalog, namespace, table)
    ddl = (
        f"CREATE DATABASE IF NOT EXISTS {qualified(catalog, namespace)};",
        create_table(
            target,
            columns,
            options,
            temporary=False,
            primary_key=key,
            partitioned_by=partitions,
        ),
    )
    overwrite = mode == "overwrite_partitions"
    return SinkSQL(ddl, _insert(target, view, columns, overwrite=overwrite))


def _kafka(
    build: Build, index: int, path: Path, sink: Sink, view: str, columns: list[Column]
) -> SinkSQL | None:
    config = sink.config
    key = primary_key(sink)
    if sink.kafka_key_field:
        if key and key != [sink.kafka_key_field]:
            build.report(
                codes.ENGINE_FEATURE_UNSUPPORTED,
                (*path, "kafka_key_field"),
                f"`kafka_key_field: {sink.kafka_key_field}` differs from `primary_key` "
                f"({', '.join(key)}); the message key is one of them",
                "keep one of `kafka_key_field` and `primary_key`",
            )
            return None
        key = [sink.kafka_key_field]
    if write_mode(sink) == "merge" and not key:
        build.report(
            codes.MERGE_WITHOUT_KEY,
            (*path, "config"),
            "`write_mode: merge` into Kafka needs a key: the columns that identify a record",
            "add `kafka_key_field:` or `primary_key:`",
        )
        return None
    topic = str(sink.kafka_topic or config.get("topic"))
    servers = str(config.get("bootstrap_servers")).removeprefix("kafka://")
    options = [
        ("connector", "upsert-kafka" if key else "kafka"),
        ("topic", topic),
        ("properties.bootstrap.servers", servers),
    ]
    # upsert-kafka keys each record by its primary key and writes deletions as tombstones.
    options += [("key.format", "json"), ("value.format", "json")] if key else [("format", "json")]
    name = ident(f"sink{index}$kafka")
    ddl = (create_table(name, columns, options, primary_key=key),)
    return SinkSQL(ddl, _insert(name, view, columns))


def _postgres(
    build: Build, index: int, path: Path, sink: Sink, view: str, columns: list[Column]
) -> SinkSQL | None:
    config = sink.config
    key = primary_key(sink)
    mode = write_mode(sink)
    if mode == "merge" and not key:
        build.report(
            codes.MERGE_WITHOUT_KEY,
            (*path, "config"),
            "`write_mode: merge` needs `primary_key`: the columns that identify a row",
            "add e.g. `primary_key: [id]`",
        )
        return None
    options = [
        ("connector", "jdbc"),
        ("url", str(config.get("url"))),
        ("table-name", str(config.get("table") or sink.table_name)),
    ]
    reference = config.get("credentials_ref")
    if isinstance(reference, str):
        secret = sink_secret(index)
        build.secrets[secret] = reference
        options += [
            ("username", f"{{{{ secrets.{secret}.username }}}}"),
            ("password", f"{{{{ secrets.{secret}.password }}}}"),
        ]
    name = ident(f"sink{index}$postgres")
    # With a primary key the JDBC sink upserts (INSERT … ON CONFLICT); without one it appends.
    ddl = (create_table(name, columns, options, primary_key=key if mode == "merge" else ()),)
    return SinkSQL(ddl, _insert(name, view, columns))


def _parquet(
    build: Build, index: int, path: Path, sink: Sink, view: str, columns: list[Column]
) -> SinkSQL | None:
    mode = write_mode(sink)
    if mode == "merge":
        build.report(
            codes.ENGINE_FEATURE_UNSUPPORTED,
            (*path, "config", "write_mode"),
            "Parquet files cannot be merged into; Flink appends or overwrites partitions",
            "write to an Iceberg sink to merge on a key",
        )
        return None
    partitions = _partitions(build, path, sink, [])
    if partitions is None:
        return None
    options = [
        ("connector", "filesystem"),
        ("path", str(sink.config.get("path"))),
        ("format", "parquet"),
    ]
    name = ident(f"sink{index}$parquet")
    ddl = (create_table(name, columns, options, partitioned_by=partitions),)
    return SinkSQL(ddl, _insert(name, view, columns, overwrite=mode == "overwrite_partitions"))
