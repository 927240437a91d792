"""Iceberg snapshots of a run: tagged with its id, found by that id, and rolled back by it.

Every commit a run makes carries ``headwater.run-id`` in its snapshot summary (through
Iceberg's session setting ``spark.sql.iceberg.snapshot-property.<key>``, which DataFrame
writes and SQL statements such as MERGE both read). A run's snapshot is then the one in the
table's current ancestry that names the run, never the table's latest: a writer that committed
after it is not attributed to the run, and a retry can tell that an earlier attempt committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

#: The snapshot summary key that names the run which made a commit.
RUN_ID = "headwater.run-id"
_SESSION_KEY = f"spark.sql.iceberg.snapshot-property.{RUN_ID}"


def load(spark: SparkSession, table: str) -> Any:
    """The Iceberg table itself (its Java API), loaded fresh through the session's catalog.

    Reading its snapshots or a property there takes milliseconds; a query of its metadata
    tables is a Spark job, a tenth of a small run.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    return jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, table)


@contextlib.contextmanager
def tagged(spark: SparkSession, run_id: str) -> Iterator[None]:
    """Every Iceberg commit of ``spark`` inside carries ``run_id`` in its summary.

    The setting belongs to the run's own session (a warm worker gives each slot its own), and
    is put back as it was afterwards.
    """
    before = spark.conf.get(_SESSION_KEY, None)
    spark.conf.set(_SESSION_KEY, run_id)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(_SESSION_KEY)
        else:
            spark.conf.set(_SESSION_KEY, before)


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A snapshot in a table's current ancestry that one of the given runs committed."""

    snapshot_id: int
    run_id: str
    #: The rows the commit added (Iceberg's own count in its summary).
    added_rows: int
    #: Whether it is the table's current snapshot (nothing was committed after it).
    current: bool


def find(table: Any, run_ids: Collection[str], stop_at: int | None = None) -> RunSnapshot | None:
    """The newest snapshot of the table's current ancestry made by one of ``run_ids``.

    The walk goes from the current snapshot to its parents, and ends at ``stop_at`` (the
    snapshot that was current before a write began: older ones cannot be that write's).
    """
    wanted = set(run_ids)
    snapshot = table.currentSnapshot()
    current = True
    while snapshot is not None and wanted:
        ident = int(snapshot.snapshotId())
        if stop_at is not None and ident == stop_at:
            return None
        summary = snapshot.summary()
        owner = summary.get(RUN_ID)
        if owner is not None and str(owner) in wanted:
            added = summary.get("added-records")
            return RunSnapshot(ident, str(owner), int(added or 0), current)
        parent = snapshot.parentId()
        snapshot = table.snapshot(parent) if parent is not None else None
        current = False
    return None


def current_id(table: Any) -> int | None:
    snapshot = table.currentSnapshot()
    return None if snapshot is None else int(snapshot.snapshotId())


def roll_back(spark: SparkSession, table_name: str, snapshot_id: int) -> bool:
    """Undo a run's commit, but only while it is still the table's current snapshot.

    The table's main branch goes back to the commit's parent (or to no snapshot when the
    commit was the table's first) in one catalog commit made against the metadata just read:
    if another writer committed meanwhile, the catalog refuses it and nothing changes (unlike
    ``manageSnapshots().rollbackTo``, which would retry on top of their commit and undo it too).
    Returns whether the commit was undone.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    table = load(spark, table_name)
    operations = table.operations()
    base = operations.current()
    snapshot = base.currentSnapshot()
    if snapshot is None or int(snapshot.snapshotId()) != snapshot_id:
        return False
    builder = jvm.org.apache.iceberg.TableMetadata.buildFrom(base)
    parent = snapshot.parentId()
    if parent is None:
        builder = builder.removeRef("main")
    else:
        builder = builder.setBranchSnapshot(int(parent), "main")
    try:
        operations.commit(base, builder.build())
    except Exception as exc:
        if "CommitFailedException" in str(exc):
            return False
        raise
    return True
