"""The data plane's settings: plain frozen values that the composition root fills in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

#: The Iceberg catalog every engine shares (Spark writes, Trino and the portal read).
CATALOG_NAME = "headwater"


@dataclass(frozen=True, slots=True)
class MavenJar:
    """One jar Spark loads, as Maven coordinates; deploy/local/spark.sh fetches it."""

    group: str
    artifact: str
    version: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"


#: Spark 4.1 (pyspark is pinned to 4.1.x in pyproject.toml) with the Iceberg runtime built for
#: it, the PostgreSQL driver of the JDBC catalog, and the AWS bundle behind S3FileIO.
SPARK_JARS: tuple[MavenJar, ...] = (
    MavenJar("org.apache.iceberg", "iceberg-spark-runtime-4.1_2.13", "1.12.0"),
    MavenJar("org.apache.iceberg", "iceberg-aws-bundle", "1.12.0"),
    MavenJar("org.postgresql", "postgresql", "42.7.14"),
)
#: The Spark line the jars above are built for; a different pyspark cannot load them.
SPARK_LINE = "4.1"


@dataclass(frozen=True, slots=True)
class ObjectStoreConfig:
    """Where the S3-compatible object store is and how to sign requests to it."""

    endpoint: str = "http://127.0.0.1:8333"
    access_key: str = "headwater"
    #: SecretStr: no repr, log line or traceback of a config shows it.
    secret_key: SecretStr = field(default_factory=lambda: SecretStr("headwater-local-secret"))
    region: str = "us-east-1"

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")

    @property
    def host(self) -> str:
        """host:port, the form the minio client takes."""
        return self.endpoint.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True, slots=True)
class DataPlaneConfig:
    """Spark and the Iceberg catalog: what `runner.spark_session` builds a session from."""

    jars_dir: Path
    catalog_uri: str
    warehouse: str
    local_dir: Path
    catalog_user: str = "headwater"
    catalog_password: SecretStr = field(default_factory=lambda: SecretStr(""))
    master: str = "local[*]"
    #: Set when tables may live on S3; required when the warehouse itself is an s3:// location.
    object_store: ObjectStoreConfig | None = None
    shuffle_partitions: int = 4
    driver_memory: str = "2g"

    @property
    def jar_paths(self) -> tuple[Path, ...]:
        return tuple(self.jars_dir / jar.file_name for jar in SPARK_JARS)

    @property
    def warehouse_on_s3(self) -> bool:
        return self.warehouse.startswith(("s3://", "s3a://"))
