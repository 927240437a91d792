"""The commit stage: every sink's drift checked first, then one commit per sink.

The job passes its cancellation's fence before the first commit (runner.ingest.cancellation):
a run is either stopped with nothing committed, or it commits every sink. A retry skips an
Iceberg sink that an earlier attempt of the run committed (its commit is found by run id in
the table's ancestry). When a sink fails after others committed, ``undo`` rolls the run's
Iceberg commits back while nothing was committed on top of them; what cannot be undone is
named in the run's error as partially committed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pyspark.sql import SparkSession

from runner.ingest import faults, iceberg, parquet_sink, postgres_sink, snapshots
from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import IngestError, SchemaDriftError, TerminalError
from runner.ingest.iceberg import Written
from runner.ingest.inputs import RunInputs
from runner.ingest.overwrite import RunWindow, reads_window
from runner.ingest.reporting import Reporter
from runner.ingest.secrets import SecretValue
from uis_compiler.grants import TenantGrant
from uis_compiler.plan import Sink, SparkPlan

#: The sink types the job writes.
WRITERS = ("iceberg", "parquet", "postgres")

_locks_lock = threading.Lock()
_table_locks: dict[str, threading.Lock] = {}


def _table_lock(key: str) -> threading.Lock:
    """One lock per destination in this process.

    Runs in one warm session (a worker's slots) that write one table at once would race each
    other's create and commit through their own catalog caches; taking turns costs a commit's
    time. Writers in other processes are Iceberg's optimistic concurrency's to sort out.
    """
    with _locks_lock:
        return _table_locks.setdefault(key, threading.Lock())


def check_sinks(spark: SparkSession, plan: SparkPlan, report: Reporter) -> None:
    """Refuse unwritable sinks and blocked contract drift before the first commit."""
    block = plan.contract.block_on_schema_drift if plan.contract else True
    declared = dict(plan.contract.columns) if plan.contract else {}
    for sink in plan.sinks:
        if sink.type not in WRITERS:
            raise TerminalError(f"the Spark job does not write `{sink.type}` sinks")
        drift = iceberg.contract_drift(spark.table(sink.view), declared)
        if drift and block:
            raise SchemaDriftError(
                f"{sink.view}: the rows differ from schema_contract ({'; '.join(drift)}) and "
                "block_on_schema_drift is on"
            )
        for change in drift:
            report.log("WARNING", f"{sink.view}: schema drift from the contract: {change}")


def commit_sinks(
    spark: SparkSession,
    plan: SparkPlan,
    inputs: RunInputs,
    secrets: Mapping[str, SecretValue],
    catalog: str,
    report: Reporter,
    cancel: Cancellation,
    grant: TenantGrant,
    written: list[Written],
) -> list[Written]:
    """Write every sink (one commit each) into ``written``; CanceledError before the first.

    ``written`` holds what is committed so far when a sink fails (``undo`` reads it).
    """
    block = plan.contract.block_on_schema_drift if plan.contract else True
    window = RunWindow(inputs.start_date, inputs.end_date, reads_window(plan))
    cancel.begin_commit()
    made = 0
    for sink in plan.sinks:
        with _table_lock(_destination(sink, catalog)):
            earlier = (
                iceberg.committed_earlier(spark, sink, catalog, inputs.earlier_attempts)
                if sink.type == "iceberg"
                else None
            )
            if earlier is not None:
                report.log(
                    "INFO",
                    f"skipped {earlier.table}: run {earlier.committed_by}, an earlier attempt "
                    f"of this run, committed it (snapshot {earlier.snapshot_id}, "
                    f"{earlier.rows} row(s)); writing it again would duplicate its rows",
                )
                written.append(earlier)
                continue
            result = _write(spark, sink, secrets, catalog, block, grant, inputs.run_id, window)
        where = result.table if sink.type == "iceberg" else f"{sink.type} {result.table}"
        snapshot = f", snapshot {result.snapshot_id}" if result.snapshot_id is not None else ""
        report.log("INFO", f"committed {result.rows} row(s) to {where}{snapshot}")
        written.append(result)
        made += 1
        faults.after_commit(made)
    return written


def undo(
    spark: SparkSession, written: list[Written], run_id: str, report: Reporter, exc: IngestError
) -> IngestError:
    """After a failed sink: roll back the run's own commits where nothing came after them.

    Returns ``exc``, its message saying what was rolled back and what stays committed (the run
    is then partially committed; a retry skips its Iceberg commits and writes the rest).
    """
    rolled: list[str] = []
    kept: list[str] = []
    for result in reversed(written):
        if result.committed_by not in (run_id, None) or (
            result.platform == "iceberg" and result.snapshot_id is None
        ):
            continue  # an earlier attempt's commit, or a write that committed nothing
        what = f"{result.platform} {result.table}"
        if result.snapshot_id is not None:
            what += f" (snapshot {result.snapshot_id}, {result.rows} row(s))"
        try:
            undone = result.platform == "iceberg" and snapshots.roll_back(
                spark, result.table, int(result.snapshot_id or 0)
            )
        except Exception as failed:
            report.log("WARNING", f"could not roll back {what}: {type(failed).__name__}")
            undone = False
        if undone:
            report.log("WARNING", f"rolled back {what}: a later sink of the run failed")
            rolled.append(what)
        else:
            kept.append(what)
    if not rolled and not kept:
        return exc
    message = str(exc)
    if rolled:
        message += f"; rolled back: {', '.join(reversed(rolled))}"
    if kept:
        why = (
            "partially committed, these commits stay (another commit came after them, or the "
            f"sink cannot be rolled back): {', '.join(reversed(kept))}; a retry of this run "
            "skips its Iceberg commits and writes the other sinks"
        )
        report.log("ERROR", why)
        message += f"; {why}"
    exc.args = (message,)
    return exc


def _destination(sink: Sink, catalog: str) -> str:
    if sink.type == "iceberg":
        return f"iceberg:{sink.catalog or catalog}.{sink.namespace}.{sink.table}"
    return f"{sink.type}:{sink.path or sink.url}:{sink.table}"


def _write(
    spark: SparkSession,
    sink: Sink,
    secrets: Mapping[str, SecretValue],
    catalog: str,
    block_on_drift: bool,
    grant: TenantGrant,
    run_id: str,
    window: RunWindow,
) -> Written:
    frame = spark.table(sink.view)
    if sink.type == "iceberg":
        return iceberg.write(
            spark, frame, sink, catalog, block_on_drift=block_on_drift, run_id=run_id,
            window=window,
        )  # fmt: skip
    if sink.type == "parquet":
        return parquet_sink.write(frame, sink, grant)
    return postgres_sink.write(frame, sink, secrets)
