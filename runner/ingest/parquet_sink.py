"""Parquet sinks: a view written as Parquet files under a folder, partitioned by plain columns.

append adds files; overwrite_partitions replaces only the partitions the run's rows fall in
(all files when the sink has no partition columns). Spark's file commit protocol publishes the
files when the job commits, so a failed run leaves none behind.
"""

from __future__ import annotations

import os

from pyspark.sql import DataFrame

from runner.ingest.exceptions import RefusedError, TerminalError
from runner.ingest.iceberg import Written
from uis_compiler.grants import TenantGrant, within
from uis_compiler.plan import Sink
from uis_compiler.sinks import parse_partition

#: Folders Spark writes without extra jars (S3 would need Hadoop's S3A connector).
_LOCAL_SCHEMES = ("/", "file:")


def _columns(sink: Sink) -> list[str]:
    columns = []
    for text in sink.partition_by:
        field = parse_partition(text)
        if field.transform != "identity":
            raise TerminalError(
                f"parquet sink {sink.path}: `{text}` is an Iceberg transform; a Parquet folder "
                "is partitioned by plain columns (derive the value in a transform first)"
            )
        columns.append(field.column)
    return columns


def folder(sink: Sink, grant: TenantGrant) -> str:
    """The local folder a sink writes, inside the tenant's file roots once symlinks resolve."""
    path = sink.path or ""
    why = grant.file_sink_refusal(path)
    if why is not None:
        raise RefusedError(f"parquet sink: {why}")
    where = grant.file_sink_path(path)
    if not where.startswith(_LOCAL_SCHEMES):
        raise TerminalError(
            f"parquet sink `{path}`: the Spark job writes Parquet to a local or mounted folder "
            "(an absolute path or file:// URL); use an iceberg sink for the object store"
        )
    # A link inside the root may point anywhere: the folder that is really written must lie
    # in a root too (a folder that does not exist yet resolves as far as it does).
    real = os.path.realpath(where)
    if any(
        within(real, os.path.realpath(root.removeprefix("file://"))) for root in grant.file_roots
    ):
        return real
    raise RefusedError(f"parquet sink `{path}` leads outside the tenant's file roots")


def write(frame: DataFrame, sink: Sink, grant: TenantGrant) -> Written:
    """Write ``frame`` under the sink's folder; returns the rows written."""
    path = folder(sink, grant)
    if sink.write_mode not in ("append", "overwrite_partitions"):
        raise TerminalError(
            f"parquet sink {path}: write_mode `{sink.write_mode}` is not available for Parquet "
            "files (append or overwrite_partitions)"
        )
    columns = _columns(sink)
    if sink.write_mode == "overwrite_partitions" and not columns:
        raise RefusedError(
            f"parquet sink {path}: overwrite_partitions without partition columns would delete "
            "every file in the folder; add partition_by, or append"
        )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise TerminalError(
            f"parquet sink {path}: partition column(s) {', '.join(missing)} are not produced"
        )
    # Counted once, from the rows about to be written (they are cached upstream).
    rows = frame.count()
    writer = frame.write.partitionBy(*columns) if columns else frame.write
    if sink.write_mode == "overwrite_partitions":
        writer.mode("overwrite").option("partitionOverwriteMode", "dynamic").parquet(path)
    else:
        writer.mode("append").parquet(path)
    return Written(path, rows, None, created=False, platform="file")
