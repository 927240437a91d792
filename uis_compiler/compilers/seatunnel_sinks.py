"""SeaTunnel sink plugins for UIS sinks: Iceberg, Jdbc, Kafka, Clickhouse, Elasticsearch, files."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from uis_compiler.compilers.hocon import Block, Comment, Entry, Name, Value
from uis_compiler.compilers.resolve import endpoint_variables, scalar_text, sink_secret
from uis_compiler.compilers.seatunnel_context import Context
from uis_compiler.compilers.seatunnel_files import s3_credentials
from uis_compiler.models import Sink
from uis_compiler.sinks import parse_partition, primary_key, write_mode
from uis_compiler.templates import VariableKind
from uis_compiler.types import Path

JDBC_CATALOG = "org.apache.iceberg.jdbc.JdbcCatalog"
_POSTGRES_DATABASE = re.compile(r"^jdbc:postgresql://[^/?]*/([^/?;]+)")
_PARTIAL_READS = frozenset({VariableKind.WINDOW, VariableKind.RUN, VariableKind.PARAMETER})
_PLUGINS = {
    "iceberg": "Iceberg",
    "postgres": "Jdbc",
    "kafka": "Kafka",
    "clickhouse": "Clickhouse",
    "elasticsearch": "Elasticsearch",
}


def sink_plugin(ctx: Context, index: int, sink: Sink, inputs: list[str]) -> tuple[str, Block]:
    """The plugin name and options of sink ``index``, reading the plugin outputs ``inputs``."""
    path: Path = ("provider", "sinks", index)
    entries: list[Entry | Comment] = [("plugin_input", inputs[0] if len(inputs) == 1 else inputs)]
    if sink.type == "iceberg":
        entries += _iceberg(ctx, path, sink)
    elif sink.type == "postgres":
        entries += _postgres(ctx, path, index, sink)
    elif sink.type == "kafka":
        entries += _kafka(sink)
    elif sink.type == "clickhouse":
        entries += _clickhouse(ctx, path, index, sink)
    elif sink.type == "elasticsearch":
        entries += _elasticsearch(ctx, path, index, sink)
    else:
        name, options = _parquet(ctx, path, index, sink)
        return name, Block((*entries, *options))
    return _PLUGINS[sink.type], Block(tuple(entries))


def _credentials(ctx: Context, path: Path, index: int, sink: Sink, user_key: str) -> list[Entry]:
    """User and password options as job variables named after the sink's credentials_ref."""
    if not isinstance(sink.config.get("credentials_ref"), str):
        return []
    where = (*path, "config", "credentials_ref")
    prefix = sink_secret(index)
    return [
        (user_key, ctx.variable(f"{prefix}_username", where)),
        ("password", ctx.variable(f"{prefix}_password", where)),
    ]


def _partition_columns(ctx: Context, path: Path, sink: Sink, how: str) -> list[str]:
    columns: list[str] = []
    for position, entry in enumerate(sink.partition_by or []):
        field = parse_partition(entry)
        if field.transform == "identity":
            columns.append(field.column)
            continue
        ctx.unsupported(
            (*path, "partition_by", position),
            f"the partition transform `{entry}` cannot be expressed: {how} only partitions by "
            "column values",
            "partition by a column (derive it in a transform, e.g. a month column), or use the "
            "Spark engine",
        )
    return columns


def _iceberg(ctx: Context, path: Path, sink: Sink) -> list[Entry | Comment]:
    assert sink.table_name is not None
    namespace, table = sink.table_name.split(".")
    catalog = ctx.options.catalog
    config = sink.config
    password = ctx.variable("catalog_password", path, f"the value of {catalog.password_ref}")
    properties: dict[str, Any] = config.get("properties") or {}
    created: dict[str, Value] = {Name("format-version"): str(config.get("format-version", 2))}
    created.update({Name(str(k)): scalar_text(v) for k, v in sorted(properties.items())})
    entries: list[Entry | Comment] = [
        ("catalog_name", str(config.get("catalog") or catalog.name)),
        ("namespace", namespace),
        ("table", table),
        (
            "iceberg.catalog.config",
            {
                # type = "jdbc" needs Iceberg 1.5+; SeaTunnel bundles 1.4.2 before 2.3.12.
                Name("catalog-impl"): JDBC_CATALOG,
                Name("uri"): catalog.uri,
                Name("warehouse"): str(config.get("warehouse") or catalog.warehouse),
                Name("jdbc.user"): catalog.user,
                Name("jdbc.password"): password,
            },
        ),
        ("iceberg.table.auto-create-props", created),
    ]
    columns = _partition_columns(ctx, path, sink, "SeaTunnel's Iceberg sink")
    if columns:
        entries.append(("iceberg.table.partition-keys", ",".join(columns)))
    mode = write_mode(sink)
    if mode == "merge":
        entries.append(("iceberg.table.primary-keys", ",".join(primary_key(sink))))
        entries.append(("iceberg.table.upsert-mode-enabled", True))
    elif mode == "overwrite_partitions":
        entries += _replace_table(ctx, path)
    return entries


def _replace_table(ctx: Context, path: Path) -> list[Entry | Comment]:
    """overwrite_partitions as "empty the table first", allowed only when a run reads everything."""
    provider = ctx.spec.provider
    partial = sorted(
        {
            name
            for endpoint in provider.active_endpoints
            for name, kind in endpoint_variables(ctx.spec, endpoint).items()
            if kind in _PARTIAL_READS
        }
    )
    reason = None
    if provider.mode == "streaming":
        reason = "a streaming job never rewrites a whole partition"
    elif provider.provider_type == "kafka":
        reason = "a Kafka source reads only new messages, so the older rows would be lost"
    elif partial:
        reason = (
            f"each run reads part of the data (it depends on {', '.join(partial)}), and SeaTunnel "
            "can only empty the whole table, not the partitions a run rewrites"
        )
    if reason is not None:
        ctx.unsupported(
            (*path, "config", "write_mode"),
            f"`write_mode: overwrite_partitions` cannot be expressed: {reason}",
            "use `write_mode: merge` with a primary_key, or the Spark engine",
        )
        return []
    return [
        Comment(
            "overwrite_partitions: every run reads the whole data set, so the table is emptied "
            "before the write (SeaTunnel has no partition overwrite; not atomic)"
        ),
        ("data_save_mode", "DROP_DATA"),
    ]


def _postgres(ctx: Context, path: Path, index: int, sink: Sink) -> list[Entry | Comment]:
    url = str(sink.config["url"])
    match = _POSTGRES_DATABASE.match(url)
    if match is None:
        ctx.unsupported(
            (*path, "config", "url"),
            f"`{url}` names no database: SeaTunnel's Jdbc sink generates its SQL from a "
            "database and a table",
            "write `jdbc:postgresql://HOST:5432/DATABASE`",
        )
    table = str(sink.config.get("table") or sink.table_name)
    entries: list[Entry | Comment] = [
        ("url", url),
        ("driver", "org.postgresql.Driver"),
        *_credentials(ctx, path, index, sink, "user"),
        ("generate_sink_sql", True),
        ("database", match.group(1) if match else ""),
        # PostgreSQL has schemas, so the sink wants `schema.table`.
        ("table", table if "." in table else f"public.{table}"),
    ]
    if write_mode(sink) == "merge":
        entries += [("primary_keys", primary_key(sink)), ("enable_upsert", True)]
    return entries


def _text_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _kafka(sink: Sink) -> list[Entry | Comment]:
    topic = sink.kafka_topic or sink.config.get("topic")
    entries: list[Entry | Comment] = [
        ("topic", str(topic)),
        ("bootstrap.servers", ",".join(_text_list(sink.config["bootstrap_servers"]))),
        ("format", "json"),
    ]
    if sink.kafka_key_field:
        entries.append(("partition_key_fields", [sink.kafka_key_field]))
    return entries


def _clickhouse(ctx: Context, path: Path, index: int, sink: Sink) -> list[Entry | Comment]:
    where = "clickhouse_table" if sink.clickhouse_table else "table_name"
    reference = str(sink.clickhouse_table or sink.table_name)
    database, _, table = reference.rpartition(".")
    if sink.clickhouse_cluster:
        ctx.unsupported(
            (*path, "clickhouse_cluster"),
            "SeaTunnel's Clickhouse sink has no cluster option",
            f"name the cluster's Distributed table in `{where}` and remove clickhouse_cluster",
        )
    entries: list[Entry | Comment] = [
        ("host", ",".join(_text_list(sink.config["host"]))),
        ("database", database or "default"),
        ("table", table),
        *_credentials(ctx, path, index, sink, "username"),
    ]
    keys = primary_key(sink)
    if write_mode(sink) == "merge":
        if len(keys) == 1:
            entries += [("primary_key", keys[0]), ("support_upsert", True)]
        else:
            ctx.unsupported(
                (*path, "config", "primary_key"),
                "SeaTunnel's Clickhouse sink upserts on one primary-key column only",
                "use a single-column primary_key, or `write_mode: append`",
            )
    return entries


def _elasticsearch(ctx: Context, path: Path, index: int, sink: Sink) -> list[Entry | Comment]:
    entries: list[Entry | Comment] = [
        ("hosts", _text_list(sink.config["hosts"])),
        ("index", str(sink.config["index"])),
    ]
    keys = primary_key(sink)
    if keys:
        entries.append(("primary_keys", keys))
    return entries + _credentials(ctx, path, index, sink, "username")


def _parquet(ctx: Context, path: Path, index: int, sink: Sink) -> tuple[str, list[Entry | Comment]]:
    location = str(sink.config["path"])
    split = urlsplit(location)
    entries: list[Entry | Comment] = []
    if split.scheme in ("s3", "s3a", "s3n") and split.netloc:
        plugin = "S3File"
        where = (*path, "config", "credentials_ref")
        has_secret = isinstance(sink.config.get("credentials_ref"), str)
        entries += [
            ("path", split.path or "/"),
            ("bucket", f"s3a://{split.netloc}"),
            ("fs.s3a.endpoint", str(sink.config.get("endpoint") or "s3.amazonaws.com")),
            *s3_credentials(ctx, sink_secret(index), has_secret, where),
        ]
    elif split.scheme in ("", "file"):
        plugin = "LocalFile"
        entries.append(("path", split.path if split.scheme else location))
    else:
        plugin = "LocalFile"
        ctx.unsupported(
            (*path, "config", "path"),
            f"`{location}` is neither a local path nor an s3:// location",
            "write to `s3://BUCKET/PATH` or a local directory",
        )
    entries.append(("file_format_type", "parquet"))
    columns = _partition_columns(ctx, path, sink, "SeaTunnel's file sinks")
    if columns:
        entries += [("have_partition", True), ("partition_by", columns)]
    if write_mode(sink) == "overwrite_partitions":
        ctx.unsupported(
            (*path, "config", "write_mode"),
            "`write_mode: overwrite_partitions` cannot be expressed: SeaTunnel's file sinks add "
            "files and never replace a partition",
            "use `write_mode: append`, or the Spark engine",
        )
    return plugin, entries
