"""The data plane's configuration: settings → DataPlaneConfig → Spark and catalog properties."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyspark
import pytest
from pydantic import SecretStr

from headwater.settings import Settings
from runner.config import SPARK_JARS, SPARK_LINE, DataPlaneConfig, ObjectStoreConfig
from runner.spark_session import (
    RESOLVING_FILE_IO,
    S3_FILE_IO,
    catalog_properties,
    session_conf,
    spark_session,
)

STORE = ObjectStoreConfig(
    endpoint="http://127.0.0.1:9000",
    access_key="ak",
    secret_key=SecretStr("sk"),
    region="eu-west-1",
)
S3_PROPS = {
    "s3.endpoint": "http://127.0.0.1:9000",
    "s3.path-style-access": "true",
    "s3.access-key-id": "ak",
    "s3.secret-access-key": "sk",
    "client.region": "eu-west-1",
}


def _config(
    warehouse: str, store: ObjectStoreConfig | None, catalog_password: str = ""
) -> DataPlaneConfig:
    return DataPlaneConfig(
        jars_dir=Path("/cache/jars"),
        catalog_uri="jdbc:postgresql://127.0.0.1:5555/headwater_catalog",
        warehouse=warehouse,
        local_dir=Path("/var/hw/spark"),
        catalog_password=SecretStr(catalog_password),
        object_store=store,
    )


@pytest.mark.parametrize(
    ("warehouse", "store", "io_impl"),
    [
        pytest.param("file:///var/hw/warehouse", None, None, id="local-only"),
        pytest.param("file:///var/hw/warehouse", STORE, RESOLVING_FILE_IO, id="local-and-s3"),
        pytest.param("s3://headwater-warehouse", STORE, S3_FILE_IO, id="s3-warehouse"),
        pytest.param("s3a://headwater-warehouse/wh", STORE, S3_FILE_IO, id="s3a-warehouse"),
    ],
)
def test_catalog_properties(
    warehouse: str, store: ObjectStoreConfig | None, io_impl: str | None
) -> None:
    props = catalog_properties(_config(warehouse, store))
    base = {
        "type": "jdbc",
        "uri": "jdbc:postgresql://127.0.0.1:5555/headwater_catalog",
        "jdbc.user": "headwater",
        "jdbc.schema-version": "V1",
        "cache-enabled": "false",
        "warehouse": warehouse,
    }
    expected = base if io_impl is None else base | {"io-impl": io_impl} | S3_PROPS
    assert props == expected


def test_catalog_password_only_when_set() -> None:
    props = catalog_properties(_config("file:///w", None, catalog_password="pw"))
    assert props["jdbc.password"] == "pw"
    assert "jdbc.password" not in catalog_properties(_config("file:///w", None))


def test_s3_warehouse_without_object_store_says_what_to_set() -> None:
    with pytest.raises(ValueError, match=r"s3://bucket is on S3 .* set HEADWATER_S3_ENDPOINT"):
        catalog_properties(_config("s3://bucket", None))


def test_session_conf_small_machine_defaults() -> None:
    conf = session_conf(_config("file:///w", STORE))
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.jars"].split(",") == [f"/cache/jars/{jar.file_name}" for jar in SPARK_JARS]
    assert conf["spark.sql.extensions"].endswith("IcebergSparkSessionExtensions")
    assert conf["spark.sql.catalog.headwater"] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf["spark.sql.catalog.headwater.type"] == "jdbc"
    assert conf["spark.sql.catalog.headwater.io-impl"] == RESOLVING_FILE_IO
    assert conf["spark.sql.defaultCatalog"] == "headwater"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.local.dir"] == "/var/hw/spark/tmp"


def test_session_conf_leaves_the_driver_reachable_on_a_cluster() -> None:
    config = dataclasses.replace(_config("s3://lake", STORE), master="spark://10.0.0.5:7077")
    conf = session_conf(config)
    assert conf["spark.master"] == "spark://10.0.0.5:7077"
    assert "spark.driver.host" not in conf
    assert "spark.driver.bindAddress" not in conf


@pytest.mark.parametrize(
    ("endpoint", "host", "secure"),
    [
        ("http://127.0.0.1:8333", "127.0.0.1:8333", False),
        ("https://s3.example.internal/", "s3.example.internal", True),
    ],
)
def test_object_store_endpoint(endpoint: str, host: str, secure: bool) -> None:
    store = ObjectStoreConfig(endpoint=endpoint)
    assert (store.host, store.secure) == (host, secure)


def test_settings_fill_the_data_plane_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "HEADWATER_VAR_DIR": str(tmp_path / "var"),
        "HEADWATER_CACHE": str(tmp_path / "cache"),
        "HEADWATER_PG_PORT": "6000",
        "HEADWATER_S3_PORT": "9100",
        "HEADWATER_S3_ACCESS_KEY": "key",
        "HEADWATER_S3_SECRET_KEY": "secret",
        "HEADWATER_SPARK_MASTER": "spark://10.0.0.5:7077",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)
    monkeypatch.delenv("HEADWATER_S3_ENDPOINT", raising=False)
    config = Settings().data_plane_config()
    assert config.catalog_uri == "jdbc:postgresql://127.0.0.1:6000/headwater_catalog"
    assert config.warehouse == (tmp_path / "var" / "warehouse").as_uri()
    assert config.jars_dir == tmp_path / "cache" / "jars"
    assert config.local_dir == tmp_path / "var" / "spark"
    assert config.master == "spark://10.0.0.5:7077"
    assert config.object_store == ObjectStoreConfig(
        endpoint="http://127.0.0.1:9100", access_key="key", secret_key=SecretStr("secret")
    )

    monkeypatch.setenv("HEADWATER_S3_ENDPOINT", "https://objects.example.internal")
    monkeypatch.setenv("HEADWATER_WAREHOUSE", "s3://lake/warehouse")
    config = Settings().data_plane_config()
    assert config.warehouse_on_s3
    assert config.object_store is not None
    assert config.object_store.endpoint == "https://objects.example.internal"


def test_missing_jars_name_the_script(tmp_path: Path) -> None:
    config = DataPlaneConfig(
        jars_dir=tmp_path, catalog_uri="jdbc:x", warehouse="file:///w", local_dir=tmp_path
    )
    with pytest.raises(FileNotFoundError, match=r"deploy/local/spark\.sh"):
        spark_session(config)


def test_jars_match_the_installed_pyspark() -> None:
    assert pyspark.__version__.startswith(f"{SPARK_LINE}.")
    runtime = next(jar for jar in SPARK_JARS if jar.artifact.startswith("iceberg-spark-runtime"))
    aws = next(jar for jar in SPARK_JARS if jar.artifact == "iceberg-aws-bundle")
    assert runtime.artifact.startswith(f"iceberg-spark-runtime-{SPARK_LINE}_")
    assert aws.version == runtime.version
