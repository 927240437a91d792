"""The Spark settings a spec may set: tuning only, never the platform's own.

A spec is a tenant's input. Catalog, warehouse, jars, packages, JVM options, class paths, the
event log and the UI belong to the platform (they reach credentials, files and ports), so a
spec's `spark_config` may name only the keys below; validation reports any other, and the plan
model refuses it again, so a stored or hand-made plan cannot carry one to a job either.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Keys that change how much work Spark does at once, or how it sizes memory and files.
TUNING_KEYS: frozenset[str] = frozenset(
    {
        "spark.default.parallelism",
        "spark.driver.memory",
        "spark.driver.memoryOverhead",
        "spark.executor.cores",
        "spark.executor.instances",
        "spark.executor.memory",
        "spark.executor.memoryOverhead",
        "spark.memory.fraction",
        "spark.memory.storageFraction",
        "spark.sql.adaptive.advisoryPartitionSizeInBytes",
        "spark.sql.adaptive.coalescePartitions.enabled",
        "spark.sql.adaptive.enabled",
        "spark.sql.adaptive.skewJoin.enabled",
        "spark.sql.autoBroadcastJoinThreshold",
        "spark.sql.execution.arrow.maxRecordsPerBatch",
        "spark.sql.files.maxPartitionBytes",
        "spark.sql.files.maxRecordsPerFile",
        "spark.sql.shuffle.partitions",
    }
)

HINT = "a spec may set only Spark tuning keys (README, Settings): " + ", ".join(
    sorted(k.removeprefix("spark.") for k in TUNING_KEYS)
)


def refused_keys(keys: Iterable[str]) -> list[str]:
    """The keys of ``keys`` a spec may not set, in order."""
    return [key for key in keys if key not in TUNING_KEYS]
