"""The Spark settings a spec may set: tuning only, never the platform's own.

A spec is a tenant's input. Catalog, warehouse, jars, packages, JVM options, class paths, the
event log and the UI belong to the platform (they reach credentials, files and ports), so a
spec's `spark_config` may name only the keys below; validation reports any other, and the plan
model refuses it again, so a stored or hand-made plan cannot carry one to a job either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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

HINT = (
    "a spec may set only Spark tuning keys, each to a number, a size (`2g`) or a boolean: "
    + ", ".join(sorted(k.removeprefix("spark.") for k in TUNING_KEYS))
)

# Spark expands `${env:…}` and `${other.key}` inside configuration values: a plain token cannot
# name another setting or the driver's environment.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9.]{1,64}")


def refused(config: Mapping[str, object]) -> list[tuple[str, str]]:
    """Each entry of ``config`` a spec may not set, with why, in order."""
    found: list[tuple[str, str]] = []
    for key, value in config.items():
        if key not in TUNING_KEYS:
            found.append((key, f"`{key}` is the platform's to set: a spec may not change it"))
        elif not _PLAIN_VALUE.fullmatch(str(value)):
            found.append((key, f"`{key}` must be a number, a size or a boolean"))
    return found
