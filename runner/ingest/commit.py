"""The commit stage: every sink's drift checked first, then one commit per sink.

The job passes its cancellation's fence before the first commit (runner.ingest.cancellation):
a run is either stopped with nothing committed, or it commits every sink.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pyspark.sql import SparkSession

from runner.ingest import iceberg, parquet_sink, postgres_sink
from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import SchemaDriftError, TerminalError
from runner.ingest.iceberg import Written
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
    secrets: Mapping[str, SecretValue],
    catalog: str,
    report: Reporter,
    cancel: Cancellation,
    grant: TenantGrant,
) -> list[Written]:
    """Write every sink (one commit each); raises CanceledError before the first if stopped."""
    block = plan.contract.block_on_schema_drift if plan.contract else True
    cancel.begin_commit()
    written: list[Written] = []
    for sink in plan.sinks:
        with _table_lock(_destination(sink, catalog)):
            result = _write(spark, sink, secrets, catalog, block, grant)
        where = result.table if sink.type == "iceberg" else f"{sink.type} {result.table}"
        snapshot = f", snapshot {result.snapshot_id}" if result.snapshot_id is not None else ""
        report.log("INFO", f"committed {result.rows} row(s) to {where}{snapshot}")
        written.append(result)
    return written


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
) -> Written:
    frame = spark.table(sink.view)
    if sink.type == "iceberg":
        return iceberg.write(spark, frame, sink, catalog, block_on_drift=block_on_drift)
    if sink.type == "parquet":
        return parquet_sink.write(frame, sink, grant)
    return postgres_sink.write(frame, sink, secrets)
