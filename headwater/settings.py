"""Every setting of the platform, from environment variables with the HEADWATER_ prefix.

This is the one settings module: the components receive plain config objects built from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.config import ApiConfig
from runner.config import DataPlaneConfig, ObjectStoreConfig
from standins.polygon.config import FaultConfig, SimConfig, parse_latency, parse_rate_limit
from uis_compiler.compilers.options import CatalogOptions, CompileOptions, SparkOptions
from uis_compiler.grants import (
    DEFAULT_VAULT_PREFIX,
    EXAMPLE_ENV_NAMES,
    SECRET_ENV_PREFIX,
    Grants,
)

if TYPE_CHECKING:
    from runner.control.config import SchedulerConfig, WorkerConfig
    from runner.ingest.job import JobConfig
    from runner.preview import PreviewConfig

ROOT = Path(__file__).resolve().parents[1]


class GrantSetting(BaseModel):
    """One tenant's own grant in HEADWATER_GRANT_TENANTS; what it leaves out is the default's."""

    env_prefixes: list[str] | None = None
    env_names: list[str] | None = None
    secrets_dir: Path | None = None
    vault_prefix: str | None = None
    python_modules: list[str] | None = None
    file_roots: list[str] | None = None


class Settings(BaseSettings):
    """HEADWATER_DATABASE_URL, HEADWATER_API_PORT, … (see README "Settings")."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    var_dir: Path = Field(ROOT / "var", description="Local state: database files, warehouse.")
    pg_port: int = 54329
    #: May carry the database password: kept out of the settings' repr.
    database_url: str = Field("", repr=False)
    catalog_database: str = "headwater_catalog"
    warehouse: str = ""
    cache: Path = Field(
        Path.home() / ".cache" / "headwater", description="Downloads: Spark jars, Trino, SeaweedFS."
    )
    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = 4
    s3_port: int = 8333
    s3_endpoint: str = ""
    s3_access_key: str = "headwater"
    s3_secret_key: SecretStr = SecretStr("headwater-local-secret")
    s3_region: str = "us-east-1"
    warehouse_bucket: str = "headwater-warehouse"
    raw_bucket: str = "headwater-raw"
    trino_port: int = 8085
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    graphiql: bool = True
    introspection: bool = True
    cors_origins: list[str] = ["http://127.0.0.1:3000", "http://localhost:3000"]
    max_body_bytes: int = 1_048_576
    max_page_size: int = 200
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    total_count_cap: int = 1000
    max_query_cost: int = Field(
        5_000, gt=0, description="Most fields one operation may resolve (estimated beforehand)."
    )
    rate_limit_per_minute: int = Field(
        1_200_000, gt=0, description="Each key's budget of estimated fields a minute, per process."
    )
    max_list_items: int = Field(100, gt=0, description="Longest list a request may send.")
    max_subscriptions_per_socket: int = Field(20, gt=0)
    max_subscriptions_per_key: int = Field(100, gt=0)
    key_recheck_seconds: float = Field(
        2.0, gt=0, description="How soon a revoked key's live sockets are closed."
    )
    spec_workers: int = Field(
        1, gt=0, description="Processes for validateSpec and compileSpec (off the event loop)."
    )
    max_spec_bytes: int = Field(1_048_576, gt=0, description="Spec text one request may send.")
    db_pool_size: int = 20
    log_level: str = "INFO"
    # The local Polygon server (`headwater polygon-sim`); lists are JSON, e.g. '["k1", "k2"]'.
    raw_landing: bool = Field(False, description="Land every fetched page in the raw bucket.")
    datahub_gms_url: str = Field("", description="DataHub GMS; empty: lineage to a JSON file.")
    datahub_token: SecretStr = SecretStr("")
    lineage_dir: Path | None = Field(
        None, description="One JSON file of proposals per run; default <var>/lineage."
    )
    polygon_sim_host: str = "127.0.0.1"
    polygon_sim_port: int = 8010
    polygon_sim_keys: list[str] = ["headwater-dev-key"]
    polygon_sim_rate_limit: str = Field("", description="e.g. 5/min or 100/s; empty: no limit")
    polygon_sim_tickers: int = 5000
    polygon_sim_fractional_volume: list[str] = []
    polygon_sim_forbidden: list[str] = []
    polygon_sim_fault_5xx: float = 0.0
    polygon_sim_fault_statuses: list[int] = [500, 502, 503]
    polygon_sim_fault_malformed: float = 0.0
    polygon_sim_fault_reset: float = 0.0
    polygon_sim_latency_ms: str = Field("0", description="added delay: 200, or a range 100-500")
    polygon_sim_slow_rate: float = 1.0
    polygon_sim_seed: int | None = None
    polygon_sim_control: bool = False
    vault_addr: str = Field("", description="Vault for vault:// secret references (KV v2).")
    vault_token: SecretStr = SecretStr("")
    # What tenants' secret references may read (README "Secret grants").
    grant_env_prefixes: list[str] = [SECRET_ENV_PREFIX]
    grant_env_names: list[str] = sorted(EXAMPLE_ENV_NAMES)
    grant_secrets_root: Path | None = Field(None, description="default <var>/secrets")
    grant_vault_prefix: str = DEFAULT_VAULT_PREFIX
    grant_python_modules: list[str] = Field([], description="Python transforms' modules.")
    grant_files_root: Path | None = Field(None, description="default <var>/files")
    grant_tenants: dict[str, GrantSetting] = Field({}, description="Per tenant, JSON.")
    # The control plane (`headwater worker`, `headwater scheduler`).
    worker_slots: int = Field(2, ge=1, description="Runs one worker executes at once.")
    worker_execution: Literal["auto", "in_process", "submit"] = Field(
        "auto", description="auto: in process for local[…] masters, spark-submit otherwise."
    )
    worker_lease_seconds: float = Field(30.0, gt=0)
    worker_heartbeat_seconds: float = Field(5.0, gt=0)
    worker_poll_seconds: float = Field(1.0, gt=0)
    worker_reap_seconds: float = Field(5.0, gt=0)
    worker_start_timeout_seconds: float = Field(600.0, gt=0)
    worker_max_runtime_seconds: float = Field(6 * 3600.0, gt=0)
    worker_cancel_timeout_seconds: float = Field(60.0, gt=0)
    worker_shutdown_grace_seconds: float = Field(30.0, ge=0)
    worker_metrics_port: int = Field(9464, ge=0, description="0: no metrics endpoint.")
    worker_scheduler: bool = Field(True, description="Run the scheduler inside the worker.")
    spark_submit_conf: dict[str, str] = Field(
        {}, description="Extra --conf of spark-submit runs (JSON)."
    )
    fetch_max_retry_after_seconds: float = Field(
        120.0,
        ge=0,
        description=(
            "The longest a run waits when a source answers 429 or 503 with Retry-After: a "
            "longer ask (or an HTTP date far ahead) waits this long, then the request is "
            "retried within the spec's attempts, so a hostile or broken source cannot hold a "
            "task for longer than attempts x this."
        ),
    )
    scheduler_tick_seconds: float = Field(1.0, gt=0)
    scheduler_misfire: Literal["skip", "catch_up"] = "catch_up"
    scheduler_catch_up_max: int = Field(1, ge=0)
    scheduler_misfire_grace_seconds: float = Field(60.0, ge=0)

    @property
    def database(self) -> str:
        return self.database_url or f"postgres://headwater@127.0.0.1:{self.pg_port}/headwater"

    def tenant_grants(self) -> Grants:
        grants = Grants(
            secrets_root=str(self.grant_secrets_root or self.var_dir / "secrets"),
            env_prefixes=tuple(self.grant_env_prefixes),
            env_names=frozenset(self.grant_env_names),
            vault_prefix=self.grant_vault_prefix or None,
            python_modules=frozenset(self.grant_python_modules),
            files_root=str(self.grant_files_root or self.var_dir / "files"),
        )
        for tenant, own in self.grant_tenants.items():
            changes: dict[str, object] = {}
            if own.env_prefixes is not None:
                changes["env_prefixes"] = tuple(own.env_prefixes)
            if own.env_names is not None:
                changes["env_names"] = frozenset(own.env_names)
            if own.secrets_dir is not None:
                changes["secrets_dir"] = str(own.secrets_dir)
            if own.file_roots is not None:
                changes["file_roots"] = tuple(own.file_roots)
            if own.python_modules is not None:
                changes["python_modules"] = frozenset(own.python_modules)
            if own.vault_prefix is not None:
                changes["vault_prefix"] = own.vault_prefix or None
            grants = grants.with_tenant(tenant, **changes)
        return grants

    def api_config(self) -> ApiConfig:
        return ApiConfig(
            database_url=self.database,
            pool_size=self.db_pool_size,
            graphiql=self.graphiql,
            introspection=self.introspection,
            cors_origins=tuple(self.cors_origins),
            max_body_bytes=self.max_body_bytes,
            max_page_size=self.max_page_size,
            max_query_depth=self.max_query_depth,
            max_aliases=self.max_aliases,
            max_tokens=self.max_tokens,
            total_count_cap=self.total_count_cap,
            grants=self.tenant_grants(),
            max_query_cost=self.max_query_cost,
            rate_limit_per_minute=self.rate_limit_per_minute,
            max_list_items=self.max_list_items,
            max_subscriptions_per_socket=self.max_subscriptions_per_socket,
            max_subscriptions_per_key=self.max_subscriptions_per_key,
            key_recheck_seconds=self.key_recheck_seconds,
            spec_workers=self.spec_workers,
            max_spec_bytes=self.max_spec_bytes,
        )

    @property
    def catalog_uri(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.pg_port}/{self.catalog_database}"

    @property
    def warehouse_location(self) -> str:
        return self.warehouse or (self.var_dir / "warehouse").as_uri()

    @property
    def trino_url(self) -> str:
        return f"http://127.0.0.1:{self.trino_port}"

    def compile_options(self) -> CompileOptions:
        # spark-submit loads the jars deploy/local/spark.sh cached, not Maven coordinates.
        return CompileOptions(
            catalog=CatalogOptions(uri=self.catalog_uri, warehouse=self.warehouse_location),
            spark=SparkOptions(
                master=self.spark_master,
                application=str(ROOT / "headwater" / "ingest_main.py"),
                packages=(),
                jars=tuple(str(path) for path in self.data_plane_config().jar_paths),
            ),
        )

    def object_store_config(self) -> ObjectStoreConfig:
        return ObjectStoreConfig(
            endpoint=self.s3_endpoint or f"http://127.0.0.1:{self.s3_port}",
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
            region=self.s3_region,
        )

    def data_plane_config(self) -> DataPlaneConfig:
        return DataPlaneConfig(
            jars_dir=self.cache / "jars",
            catalog_uri=self.catalog_uri,
            warehouse=self.warehouse_location,
            local_dir=self.var_dir / "spark",
            master=self.spark_master,
            object_store=self.object_store_config(),
            shuffle_partitions=self.spark_shuffle_partitions,
            driver_memory=self.spark_driver_memory,
        )

    def job_config(self) -> JobConfig:
        """How the ingest job lands raw pages and reports lineage."""
        # Imported here: Spark and DataHub take seconds to import, which commands that never
        # run a job (`headwater uis …`) should not pay.
        from runner.ingest.job import JobConfig
        from runner.ingest.landing import LandingConfig
        from runner.ingest.lineage import LineageConfig
        from runner.ingest.secrets import VaultConfig

        landing = (
            LandingConfig(self.raw_bucket, self.object_store_config()) if self.raw_landing else None
        )
        lineage = LineageConfig(
            gms_url=self.datahub_gms_url or None,
            token=self.datahub_token if self.datahub_token.get_secret_value() else None,
            folder=None if self.datahub_gms_url else (self.lineage_dir or self.var_dir / "lineage"),
        )
        vault = VaultConfig(self.vault_addr, self.vault_token) if self.vault_addr else None
        return JobConfig(
            vault=vault,
            grants=self.tenant_grants(),
            landing=landing,
            lineage=lineage,
            max_retry_after_seconds=self.fetch_max_retry_after_seconds,
        )

    @property
    def submits(self) -> bool:
        """True when runs go through spark-submit rather than the worker's own session."""
        if self.worker_execution != "auto":
            return self.worker_execution == "submit"
        return not self.spark_master.startswith("local")

    def submit_conf(self) -> dict[str, str]:
        """spark-submit's extra settings: a driver on loopback for a master on loopback."""
        conf = {}
        host = urlsplit(self.spark_master).hostname if "://" in self.spark_master else None
        if host in ("127.0.0.1", "localhost"):
            # The executors of a loopback cluster reach the driver there (not at a host name
            # that may resolve elsewhere).
            conf = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        return conf | self.spark_submit_conf

    def worker_config(self) -> WorkerConfig:
        from runner.control.config import WorkerConfig

        return WorkerConfig(
            database_url=self.database,
            slots=self.worker_slots,
            lease_seconds=self.worker_lease_seconds,
            heartbeat_seconds=self.worker_heartbeat_seconds,
            poll_seconds=self.worker_poll_seconds,
            reap_seconds=self.worker_reap_seconds,
            start_timeout_seconds=self.worker_start_timeout_seconds,
            max_runtime_seconds=self.worker_max_runtime_seconds,
            cancel_timeout_seconds=self.worker_cancel_timeout_seconds,
            shutdown_grace_seconds=self.worker_shutdown_grace_seconds,
            metrics_port=self.worker_metrics_port or None,
        )

    def scheduler_config(self) -> SchedulerConfig:
        from runner.control.config import SchedulerConfig

        return SchedulerConfig(
            database_url=self.database,
            tick_seconds=self.scheduler_tick_seconds,
            misfire=self.scheduler_misfire,
            catch_up_max=self.scheduler_catch_up_max,
            misfire_grace_seconds=self.scheduler_misfire_grace_seconds,
        )

    def preview_config(self, *, through_trino: bool = True) -> PreviewConfig:
        """How table previews read: Trino when wanted, else the catalog directly."""
        from runner.preview import PreviewConfig

        return PreviewConfig(
            catalog_database_url=(
                f"postgresql+psycopg2://headwater@127.0.0.1:{self.pg_port}/{self.catalog_database}"
            ),
            warehouse=self.warehouse_location,
            trino_host="127.0.0.1" if through_trino else None,
            trino_port=self.trino_port,
            object_store=self.object_store_config(),
        )

    def polygon_sim_config(self) -> SimConfig:
        """The local Polygon server's configuration (raises SimConfigError when invalid)."""
        return SimConfig(
            host=self.polygon_sim_host,
            port=self.polygon_sim_port,
            keys=tuple(self.polygon_sim_keys),
            rate_limit=parse_rate_limit(self.polygon_sim_rate_limit),
            universe_size=self.polygon_sim_tickers,
            fractional_volume=frozenset(self.polygon_sim_fractional_volume),
            forbidden=frozenset(self.polygon_sim_forbidden),
            faults=FaultConfig(
                error_rate=self.polygon_sim_fault_5xx,
                error_statuses=tuple(self.polygon_sim_fault_statuses),
                malformed_rate=self.polygon_sim_fault_malformed,
                reset_rate=self.polygon_sim_fault_reset,
                slow_rate=self.polygon_sim_slow_rate,
                latency_ms=parse_latency(self.polygon_sim_latency_ms),
                seed=self.polygon_sim_seed,
            ),
            control=self.polygon_sim_control,
            log_level=self.log_level.lower(),
        )
