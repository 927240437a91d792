"""``overwrite_partitions`` into Iceberg: a run replaces the rows of its own window, nothing else.

The window column is the column of the sink's time partition (``months(bar_date)`` gives
``bar_date``; uis_compiler.sinks.window_column). Iceberg's ``overwrite(condition)`` deletes whole
files only, and refuses one that holds rows on both sides of the condition (a month's file, a
bucket's, an unpartitioned table's), so the replacement is one row-level MERGE instead: every
row of the table whose window column lies in the window is deleted and the run's rows are
inserted, in one commit. A coarse partition (``months``) or bucketing then never loses the rows
of other days.

Without a window column the run replaces the partitions its rows fall in (an unpartitioned
table: the whole table), which is only right when every run reads the whole data set; a run
whose requests depend on its window is refused before it fetches anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

from runner.ingest.exceptions import TerminalError
from uis_compiler.plan import SparkPlan
from uis_compiler.sinks import window_column
from uis_compiler.templates import WINDOW_VARIABLES

_OP = "__headwater_op"
_DAY = "__headwater_day"
_VIEW = "__headwater_overwrite_source"


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The run's date window (both days included) and whether its requests depend on it."""

    start: date
    end: date
    read: bool


def reads_window(plan: SparkPlan) -> bool:
    """True when some endpoint's requests use the window (so a run sees only that slice)."""
    return any(name in WINDOW_VARIABLES for e in plan.endpoints for name in e.variables)


def refusal(table: str, partition_by: list[str], window: RunWindow) -> str | None:
    """Why an overwrite of ``table`` would replace rows outside the run's window (None: fine)."""
    if window_column(partition_by) is not None or not window.read:
        return None
    whole = "whole partitions" if partition_by else "the whole table"
    return (
        f"iceberg sink {table}: overwrite_partitions would replace {whole} with the rows of "
        f"one window ({window.start}..{window.end}), deleting what other windows wrote; "
        "partition the table by a time transform of its date column (e.g. `months(bar_date)`) "
        "so that a run replaces only its window, or use `write_mode: merge` with a primary_key"
    )


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def overwrite(
    spark: SparkSession, table: str, frame: DataFrame, partition_by: list[str], window: RunWindow
) -> int:
    """Replace the run's slice of ``table`` with ``frame`` in one commit; returns its rows."""
    why = refusal(table, partition_by, window)
    if why is not None:
        raise TerminalError(why)
    column = window_column(partition_by)
    if column is None:
        # Every run reads everything: its rows replace the partitions they fall in.
        rows = frame.count()
        frame.writeTo(table).overwritePartitions()
        return rows
    return _replace_window(spark, table, frame, column, window)


def _replace_window(
    spark: SparkSession, table: str, frame: DataFrame, column: str, window: RunWindow
) -> int:
    kinds = {field.name: field.dataType for field in frame.schema.fields}
    if column not in kinds:
        raise TerminalError(
            f"iceberg sink {table}: the window column `{column}` (of its time partition) is not "
            "among the rows' columns"
        )
    kind = kinds[column]
    if not isinstance(kind, DateType | TimestampType | TimestampNTZType):
        raise TerminalError(
            f"iceberg sink {table}: the window column `{column}` is {kind.simpleString()}; "
            "overwrite_partitions needs a date or timestamp there to find the window's rows"
        )
    day = F.col(column).cast("date")
    outside = frame.filter(day.isNull() | (day < F.lit(window.start)) | (day > F.lit(window.end)))
    stray = outside.select(column).limit(1).collect()
    if stray:
        count = outside.count()
        raise TerminalError(
            f"iceberg sink {table}: {count} row(s) have `{column}` outside the run's window "
            f"{window.start}..{window.end} (e.g. {stray[0][0]}); overwrite_partitions replaces "
            "only the window's rows, so they would pile up on every re-run: filter them in a "
            "transform, widen the window, or use `write_mode: merge`"
        )
    rows = frame.count()
    if rows == 0:
        # Nothing fetched is not "the window is empty now": a source's bad day must not wipe it.
        return 0
    days = spark.range(1).select(
        F.explode(F.sequence(F.lit(window.start), F.lit(window.end))).alias(_DAY)
    )
    source = frame.withColumn(_OP, F.lit("insert")).unionByName(
        days.withColumn(_OP, F.lit("delete")), allowMissingColumns=True
    )
    source.createOrReplaceTempView(_VIEW)
    target = f"t.{_quote(column)}"
    after = window.end + timedelta(days=1)
    type_name = kind.simpleString()
    # The bounds on the table's own column let Iceberg skip files outside the window; each of
    # the window's rows meets exactly one day marker, so MERGE deletes it once.
    on = (
        f"{target} >= CAST('{window.start.isoformat()}' AS {type_name}) "
        f"AND {target} < CAST('{after.isoformat()}' AS {type_name}) "
        f"AND CAST({target} AS DATE) = s.{_DAY} AND s.{_OP} = 'delete'"
    )
    columns = ", ".join(_quote(name) for name in frame.columns)
    values = ", ".join(f"s.{_quote(name)}" for name in frame.columns)
    try:
        spark.sql(
            f"MERGE INTO {table} t USING {_VIEW} s ON {on} WHEN MATCHED THEN DELETE "
            f"WHEN NOT MATCHED AND s.{_OP} = 'insert' THEN INSERT ({columns}) VALUES ({values})"
        )
    finally:
        spark.catalog.dropTempView(_VIEW)
    return rows
