"""A warm SparkSession with Headwater's Iceberg catalog, built once and reused within a process."""

from __future__ import annotations

import os
import sys
import threading

import pyspark
from pyspark.sql import SparkSession

from runner.config import CATALOG_NAME, SPARK_LINE, DataPlaneConfig

S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
# Picks the FileIO by each path's scheme (s3:// → S3FileIO, file:// → HadoopFileIO), so one
# catalog can hold tables in the local warehouse and on the object store.
RESOLVING_FILE_IO = "org.apache.iceberg.io.ResolvingFileIO"

_lock = threading.Lock()
_warm: dict[DataPlaneConfig, SparkSession] = {}


def catalog_properties(config: DataPlaneConfig) -> dict[str, str]:
    """The Iceberg JDBC catalog's properties (without the spark.sql.catalog.<name>. prefix)."""
    props = {
        "type": "jdbc",
        "uri": config.catalog_uri,
        "jdbc.user": config.catalog_user,
        # V1 adds the column that tells tables from views; Trino is configured the same way.
        "jdbc.schema-version": "V1",
        "warehouse": config.warehouse,
        # A warm session outlives many commits, by its own runs and by other writers: a cached
        # table would plan a merge on an old snapshot (and fail its commit as a conflict).
        "cache-enabled": "false",
    }
    if config.catalog_password.get_secret_value():
        props["jdbc.password"] = config.catalog_password.get_secret_value()
    store = config.object_store
    if config.warehouse_on_s3 and store is None:
        raise ValueError(
            f"the warehouse {config.warehouse} is on S3 but no object store is configured: "
            "set HEADWATER_S3_ENDPOINT (and its credentials)"
        )
    if store is not None:
        props |= {
            "io-impl": S3_FILE_IO if config.warehouse_on_s3 else RESOLVING_FILE_IO,
            "s3.endpoint": store.endpoint,
            "s3.path-style-access": "true",
            "s3.access-key-id": store.access_key,
            "s3.secret-access-key": store.secret_key.get_secret_value(),
            "client.region": store.region,
        }
    return props


def session_conf(config: DataPlaneConfig) -> dict[str, str]:
    """Every Spark setting of the session: jars, Iceberg, and small-machine defaults."""
    prefix = f"spark.sql.catalog.{CATALOG_NAME}"
    conf = {
        "spark.master": config.master,
        "spark.app.name": "headwater",
        "spark.jars": ",".join(str(path) for path in config.jar_paths),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.defaultCatalog": CATALOG_NAME,
        "spark.sql.session.timeZone": "UTC",
        # Ingest batches are small and the default machine has two cores: 200 shuffle
        # partitions would be 200 near-empty tasks per exchange.
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(config.shuffle_partitions),
        "spark.driver.memory": config.driver_memory,
        "spark.ui.enabled": "false",
        # A worker runs several runs in one session: FAIR pools (one per slot) share the
        # executors between them instead of queueing one run's stages behind another's.
        "spark.scheduler.mode": "FAIR",
        "spark.ui.showConsoleProgress": "false",
        # No Hive metastore: Iceberg's catalog is the only one, so nothing writes metastore_db/.
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(config.local_dir / "spark-warehouse"),
        "spark.local.dir": str(config.local_dir / "tmp"),
        "spark.log.level": "WARN",
    }
    if _is_local(config):
        # In-process Spark listens on loopback only; a cluster's executors must reach the driver.
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        # The in-process JVM is driver and executor on a few cores: the throughput collector
        # leaves more of them to the tasks than G1's concurrent threads do (a few percent of a
        # run, README "Ingest throughput").
        conf["spark.driver.extraJavaOptions"] = "-XX:+UseParallelGC"
    conf |= {f"{prefix}.{key}": value for key, value in catalog_properties(config).items()}
    return conf


def _is_local(config: DataPlaneConfig) -> bool:
    return config.master.startswith("local")


def _check(config: DataPlaneConfig) -> None:
    if not pyspark.__version__.startswith(f"{SPARK_LINE}."):
        raise RuntimeError(
            f"pyspark {pyspark.__version__} is installed, but the Iceberg runtime is built for "
            f"Spark {SPARK_LINE}: reinstall with `make install`"
        )
    missing = [str(path) for path in config.jar_paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Spark jars missing: {', '.join(missing)}; fetch them with `bash deploy/local/spark.sh`"
        )


def spark_session(config: DataPlaneConfig) -> SparkSession:
    """The process's warm session for this config; a different config replaces it."""
    with _lock:
        session = _warm.get(config)
        if session is not None:
            return session
        _check(config)
        for previous in _warm.values():
            previous.stop()
        _warm.clear()
        config.local_dir.mkdir(parents=True, exist_ok=True)
        if _is_local(config):
            # The JVM inherits this: Spark then neither looks for a non-loopback address nor
            # warns that the host name resolves to loopback.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Local Python workers run the ingest job's code: they need this interpreter and its
            # packages (PySpark reads only the environment for this, not spark.pyspark.python).
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder
        for key, value in session_conf(config).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        _warm[config] = session
        return session


def stop_session() -> None:
    """Stops the warm session, if any (at process exit, or before switching configs)."""
    with _lock:
        for session in _warm.values():
            session.stop()
        _warm.clear()
