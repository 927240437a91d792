"""Platform settings the compilers need; the composition root fills them from HEADWATER_ settings.

Defaults describe the embedded one-machine platform, so compiling needs no configuration and golden
outputs are stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class CatalogOptions:
    """The Iceberg catalog every engine writes through: a JDBC catalog in PostgreSQL."""

    name: str = "headwater"
    uri: str = "jdbc:postgresql://127.0.0.1:5432/headwater_catalog"
    warehouse: str = "file:///var/lib/headwater/warehouse"
    user: str = "headwater"
    #: A secret reference, never a value: the job resolves it when it opens the catalog.
    password_ref: str = "env:HEADWATER_CATALOG_PASSWORD"


@dataclass(frozen=True, slots=True)
class SparkOptions:
    """How the runner submits a plan with spark-submit."""

    master: str = "local[*]"
    deploy_mode: Literal["client", "cluster"] = "client"
    application: str = "headwater/ingest_main.py"
    plan_path: str = "plan.json"
    #: The Spark 4.1 line's Iceberg runtime, S3FileIO, and the JDBC catalog's driver.
    packages: tuple[str, ...] = (
        "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0",
        "org.apache.iceberg:iceberg-aws-bundle:1.12.0",
        "org.postgresql:postgresql:42.7.14",
    )
    jars: tuple[str, ...] = ()
    request_timeout_seconds: float = 30.0
    concurrent_requests: int = 8
    request_attempts: int = 5
    request_backoff_seconds: float = 0.5
    request_max_backoff_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class FlinkOptions:
    """Flink-only compile settings."""

    #: ``jdbc`` is the platform's catalog; ``hadoop`` writes straight into the warehouse, for
    #: planning and tests without a catalog database.
    catalog_type: Literal["jdbc", "hadoop"] = "jdbc"
    #: Iceberg and file sinks commit on checkpoints, so a streaming job without them never
    #: commits; file sources in streaming mode look for new files at the same pace.
    checkpoint_interval: str = "60s"


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """Everything a compiler may need beyond the spec."""

    catalog: CatalogOptions = field(default_factory=CatalogOptions)
    spark: SparkOptions = field(default_factory=SparkOptions)
    flink: FlinkOptions = field(default_factory=FlinkOptions)
