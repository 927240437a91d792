"""Iceberg sink writes: what each write mode commits, the row count it reports, the run id each
commit carries, and rolling a commit back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from runner.ingest import iceberg, snapshots
from runner.ingest.exceptions import TerminalError
from runner.ingest.overwrite import RunWindow
from uis_compiler.plan import Sink, WriteMode

CATALOG = "headwater"
#: Days 2 to 3 of January 2024, a window the run's requests depend on.
WINDOW = RunWindow(date(2024, 1, 2), date(2024, 1, 3), read=True)


@pytest.fixture
def namespace(spark: SparkSession) -> Iterator[str]:
    name = f"writes_{uuid.uuid4().hex[:10]}"
    yield name
    spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{name}.items PURGE")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{name}")


def _sink(namespace: str, mode: WriteMode, partition_by: list[str] | None = None) -> Sink:
    return Sink(
        type="iceberg",
        view="items",
        namespace=namespace,
        table="items",
        write_mode=mode,
        primary_key=["id"] if mode == "merge" else [],
        partition_by=["days(day)"] if partition_by is None else partition_by,
    )


def _frame(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(
        [(i, f"2024-01-0{d}", v) for i, d, v in rows], "id BIGINT, day STRING, value STRING"
    ).selectExpr("id", "CAST(day AS DATE) AS day", "value")


def _commit(
    spark: SparkSession,
    namespace: str,
    mode: WriteMode,
    rows: list[Any],
    run_id: str = "run-1",
    partition_by: list[str] | None = None,
    window: RunWindow = WINDOW,
) -> iceberg.Written:
    frame = _frame(spark, rows).coalesce(1)
    sink = _sink(namespace, mode, partition_by)
    return iceberg.write(
        spark, frame, sink, CATALOG, block_on_drift=True, run_id=run_id, window=window
    )


def _write(spark: SparkSession, namespace: str, mode: WriteMode, rows: list[Any]) -> int:
    written = _commit(spark, namespace, mode, rows)
    if written.snapshot_id is not None:
        assert written.snapshot_id == iceberg.latest_snapshot(spark, written.table)
    return written.rows


def _table(spark: SparkSession, namespace: str) -> list[tuple[Any, ...]]:
    rows = spark.sql(f"SELECT id, day, value FROM {CATALOG}.{namespace}.items ORDER BY id, day")
    return [(r.id, r.day.day, r.value) for r in rows.collect()]


def test_a_merge_counts_rows_after_de_duplication_and_the_last_fetched_wins(
    spark: SparkSession, namespace: str
) -> None:
    first = [(1, 1, "a"), (2, 1, "b"), (2, 1, "b-later"), (3, 2, "c")]
    assert _write(spark, namespace, "merge", first) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b-later"), (3, 2, "c")]
    # A re-run updates two keys and adds one: three rows written, none duplicated.
    again = [(2, 1, "b2"), (3, 2, "c2"), (4, 2, "d")]
    assert _write(spark, namespace, "merge", again) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b2"), (3, 2, "c2"), (4, 2, "d")]


def test_an_empty_write_reports_no_rows(spark: SparkSession, namespace: str) -> None:
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 2, "b")]) == 2
    assert _write(spark, namespace, "append", []) == 0
    assert _write(spark, namespace, "merge", []) == 0
    empty = _commit(spark, namespace, "overwrite_partitions", [])
    # Nothing fetched replaces nothing: the window's rows stay.
    assert (empty.rows, empty.snapshot_id) == (0, None)
    assert len(_table(spark, namespace)) == 2


def test_overwriting_partitions_counts_the_rows_written(
    spark: SparkSession, namespace: str
) -> None:
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 2, "b"), (3, 2, "c")]) == 3
    # The window's days (2 and 3) are replaced by one row; day 1 stays.
    assert _write(spark, namespace, "overwrite_partitions", [(9, 2, "z")]) == 1
    assert _table(spark, namespace) == [(1, 1, "a"), (9, 2, "z")]


@pytest.mark.parametrize(
    "partition_by",
    [["months(day)"], ["bucket(4, id)", "years(day)"], ["days(day)"]],
    ids=["months", "bucket-and-years", "days"],
)
def test_an_overwrite_replaces_only_the_windows_rows(
    spark: SparkSession, namespace: str, partition_by: list[str]
) -> None:
    before = [(1, 1, "a"), (2, 2, "b"), (3, 3, "c"), (4, 4, "d"), (5, 9, "e")]
    _commit(spark, namespace, "append", before, partition_by=partition_by)
    # One month's file (or a bucket's) holds days inside and outside the window.
    written = _commit(spark, namespace, "overwrite_partitions", [(7, 2, "x"), (8, 3, "y")],
                      run_id="run-2", partition_by=partition_by)  # fmt: skip
    assert written.rows == 2
    assert _table(spark, namespace) == [(1, 1, "a"), (4, 4, "d"), (5, 9, "e"), (7, 2, "x"),
                                        (8, 3, "y")]  # fmt: skip
    # The window is the run's whole slice: a re-run replaces its own rows, adds none.
    _commit(spark, namespace, "overwrite_partitions", [(7, 2, "x2")], run_id="run-3",
            partition_by=partition_by)  # fmt: skip
    assert _table(spark, namespace) == [(1, 1, "a"), (4, 4, "d"), (5, 9, "e"), (7, 2, "x2")]


def test_an_overwrite_refuses_rows_outside_its_window(spark: SparkSession, namespace: str) -> None:
    _commit(spark, namespace, "append", [(1, 5, "a")], partition_by=["months(day)"])
    with pytest.raises(TerminalError, match=r"1 row\(s\) have `day` outside the run's window"):
        _commit(spark, namespace, "overwrite_partitions", [(2, 2, "b"), (3, 5, "c")],
                run_id="run-2", partition_by=["months(day)"])  # fmt: skip
    assert _table(spark, namespace) == [(1, 5, "a")]


def test_an_overwrite_without_a_time_partition_of_a_windowed_read_is_refused(
    spark: SparkSession, namespace: str
) -> None:
    _commit(spark, namespace, "append", [(1, 1, "a"), (2, 2, "b")], partition_by=[])
    with pytest.raises(TerminalError, match=r"would replace the whole table with the rows of one"):
        _commit(spark, namespace, "overwrite_partitions", [(3, 2, "c")], partition_by=[])
    # A run that reads everything may replace the whole table (a full refresh).
    everything = RunWindow(WINDOW.start, WINDOW.end, read=False)
    _commit(spark, namespace, "overwrite_partitions", [(3, 2, "c")], partition_by=[],
            window=everything)  # fmt: skip
    assert _table(spark, namespace) == [(3, 2, "c")]


def test_each_commit_carries_its_run_id_and_a_later_writer_is_not_the_runs(
    spark: SparkSession, namespace: str
) -> None:
    first = _commit(spark, namespace, "append", [(1, 1, "a"), (2, 1, "b")], run_id="run-a")
    later = _commit(spark, namespace, "append", [(3, 2, "c")], run_id="run-b")
    table = snapshots.load(spark, iceberg.identifier(CATALOG, _sink(namespace, "append")))
    summary = table.snapshot(first.snapshot_id).summary()
    assert summary.get(snapshots.RUN_ID) == "run-a"
    assert (first.committed_by, later.committed_by) == ("run-a", "run-b")
    # run-a's commit is found by its id, under run-b's newer one.
    found = snapshots.find(table, ["run-a"])
    assert found == snapshots.RunSnapshot(int(first.snapshot_id or 0), "run-a", 2, current=False)
    earlier = iceberg.committed_earlier(spark, _sink(namespace, "append"), CATALOG, ("run-a",))
    assert earlier is not None
    assert (earlier.snapshot_id, earlier.rows, earlier.committed_by) == (
        first.snapshot_id, 2, "run-a"
    )  # fmt: skip
    assert iceberg.committed_earlier(spark, _sink(namespace, "append"), CATALOG, ("x",)) is None


def test_a_commit_is_rolled_back_only_while_it_is_current(
    spark: SparkSession, namespace: str
) -> None:
    first = _commit(spark, namespace, "append", [(1, 1, "a")], run_id="run-a")
    second = _commit(spark, namespace, "append", [(2, 1, "b")], run_id="run-b")
    name = f"{CATALOG}.{namespace}.items"
    # run-a's commit has run-b's on top: undoing it would undo theirs too.
    assert not snapshots.roll_back(spark, name, int(first.snapshot_id or 0))
    assert [r[0] for r in _table(spark, namespace)] == [1, 2]
    assert snapshots.roll_back(spark, name, int(second.snapshot_id or 0))
    assert [r[0] for r in _table(spark, namespace)] == [1]
    # A rolled-back commit is no longer in the table's ancestry: a retry writes it again.
    assert iceberg.committed_earlier(spark, _sink(namespace, "append"), CATALOG, ("run-b",)) is None
    # The table's first commit goes back to no snapshot at all.
    assert snapshots.roll_back(spark, name, int(first.snapshot_id or 0))
    assert _table(spark, namespace) == []


def test_a_merge_into_a_copy_on_write_table_de_duplicates_too(
    spark: SparkSession, namespace: str
) -> None:
    # Created by an append, the table keeps Iceberg's default: copy-on-write merges.
    assert _write(spark, namespace, "append", [(1, 1, "a"), (2, 1, "b")]) == 2
    # The count includes the unchanged row 1, rewritten with row 2 in day 1's file.
    assert _write(spark, namespace, "merge", [(2, 1, "b2"), (2, 1, "b3"), (3, 2, "c")]) == 3
    assert _table(spark, namespace) == [(1, 1, "a"), (2, 1, "b3"), (3, 2, "c")]
