"""Iceberg sinks: create with the partition spec on first write, then one atomic commit per run.

append adds rows; merge upserts on the primary key (so re-running a window adds no duplicate);
overwrite_partitions replaces the rows of the run's window (runner.ingest.overwrite). Every
commit is tagged with the run's id, and the run's snapshot and row count are read back by that
id (runner.ingest.snapshots), not from whatever snapshot is the table's latest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from runner.ingest import snapshots
from runner.ingest.exceptions import SchemaDriftError, TerminalError
from runner.ingest.overwrite import RunWindow, overwrite
from uis_compiler.columns import SQL_TYPES, ColumnType
from uis_compiler.plan import Sink

_WIDENINGS = {("int", "bigint"), ("float", "double")}


@dataclass(frozen=True, slots=True)
class Written:
    """What one sink commit did."""

    table: str
    rows: int
    snapshot_id: int | None
    created: bool
    #: Where the rows went: `iceberg`, `file` (a Parquet folder) or `postgres`.
    platform: str = "iceberg"
    #: The run whose commit this is: the run itself, or an earlier attempt of it whose commit
    #: a retry found in the table and did not repeat (None where commits carry no run id).
    committed_by: str | None = None


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def identifier(catalog: str, sink: Sink) -> str:
    return ".".join(_quote(part) for part in (catalog, sink.namespace or "", sink.table or ""))


def latest_snapshot(spark: SparkSession, table: str) -> int | None:
    return snapshots.current_id(snapshots.load(spark, table))


def _create(spark: SparkSession, table: str, frame: DataFrame, sink: Sink) -> None:
    columns = ", ".join(
        f"{_quote(field.name)} {field.dataType.simpleString()}" for field in frame.schema.fields
    )
    partitions = f" PARTITIONED BY ({', '.join(sink.partition_by)})" if sink.partition_by else ""
    # Only the platform's own values are written into the statement; the spec's properties
    # (known names, checked values) go through Iceberg's API below, never spliced into SQL.
    properties = {"format-version": str(int(sink.format_version))}
    if sink.write_mode == "merge":
        # Merges rewrite few rows: row-level deletes keep them cheap.
        properties.update(
            {"write.merge.mode": "merge-on-read", "write.update.mode": "merge-on-read"}
        )
    props = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(properties.items()))
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {table} ({columns}) USING iceberg{partitions} "
        f"TBLPROPERTIES ({props})"
    )
    if sink.properties:
        update = snapshots.load(spark, table).updateProperties()
        for name, value in sorted(sink.properties.items()):
            update = update.set(name, value)
        update.commit()


def contract_drift(frame: DataFrame, columns: Mapping[str, ColumnType]) -> list[str]:
    """How a sink's rows differ from the declared schema_contract (none when there is none)."""
    if not columns:
        return []
    produced = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
    changes = [
        f"`{name}` is {kind}, the contract says {SQL_TYPES[columns[name]]}"
        for name, kind in produced.items()
        if name in columns and SQL_TYPES[columns[name]] != kind
    ]
    changes += [
        f"new column `{name}` {kind}" for name, kind in produced.items() if name not in columns
    ]
    return changes


def check_drift(spark: SparkSession, table: str, frame: DataFrame, block: bool) -> list[str]:
    """Columns new or retyped against the table; evolves the table when the policy allows."""
    current = {f.name: f.dataType.simpleString() for f in spark.table(table).schema.fields}
    changes: list[str] = []
    additions: list[str] = []
    for field in frame.schema.fields:
        kind = field.dataType.simpleString()
        if field.name not in current:
            changes.append(f"new column `{field.name}` {kind}")
            additions.append(f"{_quote(field.name)} {kind}")
        elif current[field.name] != kind:
            changes.append(f"`{field.name}` {current[field.name]} -> {kind}")
            if (current[field.name], kind) not in _WIDENINGS:
                raise SchemaDriftError(
                    f"{table}: `{field.name}` is {current[field.name]} in the table but {kind} "
                    "now; Iceberg cannot change it in place (only int->bigint, float->double)"
                )
    if changes and block:
        raise SchemaDriftError(
            f"{table}: the schema drifted ({'; '.join(changes)}) and block_on_schema_drift is on"
        )
    if additions:
        spark.sql(f"ALTER TABLE {table} ADD COLUMNS ({', '.join(additions)})")
    for field in frame.schema.fields:
        if field.name in current and current[field.name] != field.dataType.simpleString():
            spark.sql(
                f"ALTER TABLE {table} ALTER COLUMN {_quote(field.name)} "
                f"TYPE {field.dataType.simpleString()}"
            )
    return changes


def write(
    spark: SparkSession,
    frame: DataFrame,
    sink: Sink,
    catalog: str,
    *,
    block_on_drift: bool,
    run_id: str,
    window: RunWindow,
) -> Written:
    """Commit ``frame`` to the sink's table in one Iceberg commit tagged with ``run_id``."""
    table = identifier(catalog, sink)
    name = f"{catalog}.{sink.namespace}.{sink.table}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {_quote(catalog)}.{_quote(sink.namespace or '')}")
    created = not spark.catalog.tableExists(name)
    before = None
    if created:
        _create(spark, table, frame, sink)
    else:
        check_drift(spark, table, frame, block_on_drift)
        before = latest_snapshot(spark, table)
    rows: int | None = None
    with snapshots.tagged(spark, run_id):
        if sink.write_mode == "merge":
            _merge(spark, table, frame, sink)
        elif sink.write_mode == "overwrite_partitions":
            rows = overwrite(spark, name, frame, sink.partition_by, window)
        else:
            frame.writeTo(name).append()
    # The commit's own count costs no pass over the rows: for a merge into a merge-on-read
    # table (as _create makes them) it is the rows after de-duplication; into a copy-on-write
    # table made elsewhere it also counts the unchanged rows of the files it rewrote (an
    # overwrite counts the rows it was given instead). A write that committed nothing left
    # no snapshot of the run's.
    mine = snapshots.find(snapshots.load(spark, table), [run_id], stop_at=before)
    if mine is None:
        return Written(name, 0, None, created, committed_by=run_id)
    count = rows if rows is not None else mine.added_rows
    return Written(name, count, mine.snapshot_id, created, committed_by=run_id)


def committed_earlier(
    spark: SparkSession, sink: Sink, catalog: str, earlier: tuple[str, ...]
) -> Written | None:
    """The commit an earlier attempt of the run made to the sink's table, if it is still there.

    "Still there" is the table's current ancestry: a commit that was rolled back does not count.
    """
    if not earlier:
        return None
    name = f"{catalog}.{sink.namespace}.{sink.table}"
    if not spark.catalog.tableExists(name):
        return None
    found = snapshots.find(snapshots.load(spark, identifier(catalog, sink)), earlier)
    if found is None:
        return None
    return Written(name, found.added_rows, found.snapshot_id, False, committed_by=found.run_id)


def latest_per_key(frame: DataFrame, keys: list[str]) -> DataFrame:
    """One row per key: the last one fetched (rows keep their fetch order through the cache)."""
    order = F.monotonically_increasing_id()
    ranked = frame.withColumn("__order", order).withColumn(
        "__rank",
        F.row_number().over(Window.partitionBy(*keys).orderBy(F.col("__order").desc())),
    )
    return ranked.filter("__rank = 1").drop("__order", "__rank")


def _property(spark: SparkSession, table: str, name: str) -> str | None:
    """A table property's value (None when the table does not set it)."""
    value = snapshots.load(spark, table).properties().get(name)
    return None if value is None else str(value)


def _merge(spark: SparkSession, table: str, frame: DataFrame, sink: Sink) -> None:
    keys = sink.primary_key
    missing = [key for key in keys if key not in frame.columns]
    if missing:
        raise TerminalError(f"{table}: primary key column(s) {', '.join(missing)} are not produced")
    # One source row per key, or MERGE refuses.
    source = latest_per_key(frame, keys)
    if _property(spark, table, "write.merge.mode") != "merge-on-read":
        # A copy-on-write merge (Iceberg's default, for tables made elsewhere or by another
        # write mode) also reads the source in a filter, where Spark refuses the ordering's
        # non-deterministic id: materialise the de-duplicated rows first.
        source = source.localCheckpoint(eager=True)
    view = "__headwater_merge_source"
    source.createOrReplaceTempView(view)
    on = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)
    spark.sql(
        f"MERGE INTO {table} t USING {view} s ON {on} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    spark.catalog.dropTempView(view)
