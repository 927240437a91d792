"""Pydantic models of UIS 1.1 and 1.2, field for field as UIS.md defines them.

The models validate types and allowed values only. Unknown keys are ignored here and reported by
:mod:`uis_compiler.keys` (as warnings, the original tooling dropped them silently); what fields
mean together is checked by :mod:`uis_compiler.semantics`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProviderType = Literal[
    "rest_api", "graphql", "websocket", "webhook", "file_ftp", "database", "kafka", "s3"
]
Mode = Literal["batch", "micro_batch", "streaming", "websocket", "webhook", "graphql_subscription"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
AuthType = Literal["api_key", "bearer", "basic", "oauth2", "hmac", "none"]
PaginationType = Literal["cursor", "offset", "page", "none"]
TransformType = Literal["sql", "spark", "python", "flink", "wasm"]
SinkType = Literal["iceberg", "parquet", "postgres", "kafka", "clickhouse", "elasticsearch"]
EngineName = Literal["spark", "flink", "seatunnel"]
CompatMode = Literal["BACKWARD", "FORWARD", "FULL", "NONE"]
Version = Literal["1.1", "1.2"]


class _Model(BaseModel):
    # Numbers where text is expected are accepted as text (`name: 2024` is the string "2024"),
    # as the original tooling did; unknown keys are reported by the key checker, not here.
    model_config = ConfigDict(
        extra="ignore", coerce_numbers_to_str=True, populate_by_name=True, frozen=True
    )


class _OpenModel(_Model):
    """A mapping with some known keys and any number of user-defined ones."""

    model_config = ConfigDict(extra="allow")


class AuthConfig(_Model):
    """How credentials are sent."""

    header_name: str | None = Field(None, description="Header that carries the credential.")
    header_format: str | None = Field(
        None, description="Header value template, e.g. `Bearer {{ api_key }}`."
    )
    location: Literal["header", "query"] | None = Field(
        None, description="Where an api_key goes: `header` (default) or `query`."
    )
    param_name: str | None = Field(None, description="Query parameter name for `location: query`.")
    token_url: str | None = Field(None, description="OAuth2 client-credentials token endpoint.")
    scopes: list[str] | None = Field(None, description="OAuth2 scopes.")
    signature_header: str | None = Field(None, description="HMAC: header carrying the signature.")
    signature_algorithm: str | None = Field(None, description="HMAC: e.g. `sha256`.")

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        # OAuth2 writes scopes as one space-separated string; both forms mean the same.
        return value.split() if isinstance(value, str) else value


class PaginationConfig(_Model):
    """Settings of the chosen pagination mode."""

    next_url_path: str | None = Field(
        None, description="cursor: JSONPath of the next page's full URL (default `$.next_url`)."
    )
    cursor_path: str | None = Field(None, description="cursor: JSONPath of the next-page token.")
    cursor_param: str | None = Field(None, description="cursor: query parameter for the token.")
    offset_param: str | None = Field(None, description="offset: parameter name (default `offset`).")
    limit_param: str | None = Field(None, description="offset: limit parameter (default `limit`).")
    page_param: str | None = Field(None, description="page: page parameter (default `page`).")
    page_size_param: str | None = Field(
        None, description="page: page-size parameter (default `page_size`)."
    )
    start_page: int | None = Field(None, description="page: first page number (default 1).")
    page_size: int | None = Field(None, description="Records per page (the limit parameter).")
    max_pages: int | None = Field(None, description="Stop after this many pages (default 1000).")


class ValidationRules(_Model):
    """Quality rules on an endpoint's mapped records."""

    required_fields: list[str] | None = Field(None, description="Columns that must not be null.")
    numeric_ranges: dict[str, Any] | None = Field(
        None, description="Column → [min, max]; either bound may be null."
    )
    field_types: dict[str, str] | None = Field(None, description="Column → expected type.")
    unique: list[str] | None = Field(None, description="Columns whose combination is unique.")


class Endpoint(_Model):
    """One HTTP endpoint of the provider."""

    name: str = Field(description="Unique endpoint name; its records form a view of this name.")
    path: str = Field(description="Appended to base_url; may hold {{ templates }}.")
    method: HttpMethod = Field("GET", description="HTTP method.")
    auth: AuthType | None = Field(None, description="Authentication method.")
    auth_config: AuthConfig | None = None
    headers: dict[str, str] | None = Field(None, description="Request headers (templates allowed).")
    query_params: dict[str, Any] | None = Field(
        None, description="Query parameters (templates allowed)."
    )
    body_template: str | None = Field(
        None, description="Request body for POST (templates allowed)."
    )
    pagination: PaginationType = Field("none", description="Pagination mode.")
    pagination_config: PaginationConfig | None = None
    response_path: str | None = Field(
        None, description="JSONPath of the records array (default `$`)."
    )
    field_mapping: dict[str, str] | None = Field(
        None, description="Output column → source field (dotted path inside one record)."
    )
    rate_limit_group: str | None = Field(None, description="Endpoints in one group share a limit.")
    rate_limit_per_second: int | None = Field(None, gt=0, description="Requests per second.")
    sample_size: int | None = Field(100, ge=1, description="Records shown by a connection test.")
    validation_rules: ValidationRules | None = None
    is_active: bool = Field(True, description="Inactive endpoints are not read.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Transform(_Model):
    """A transform over named views; its result is a view named after it."""

    name: str = Field(description="Unique transform name; also the name of its result view.")
    type: TransformType = Field(description="How the transform runs.")
    sql_query: str | None = Field(None, description="sql/spark: the query over named views.")
    parameters: dict[str, Any] | None = Field(
        None, description="Free-form; `views` maps alias → view."
    )
    python_module: str | None = Field(None, description="python: importable module.")
    python_function: str | None = Field(None, description="python: DataFrame → DataFrame function.")
    spark_config: dict[str, Any] | None = None
    flink_config: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    wasm_module: str | None = Field(None, description="wasm: OCI reference of the module.")
    wasm_function: str | None = Field("transform", description="wasm: exported function.")


class Sink(_Model):
    """Where a view is written."""

    type: SinkType = Field(description="Sink kind.")
    config: dict[str, Any] = Field(description="Sink settings (write_mode, primary_key, …).")
    table_name: str | None = Field(None, description="`namespace.table`.")
    partition_by: list[str] | None = Field(
        None, description="Columns or Iceberg transforms: `days(ts)`, `bucket(16, id)`."
    )
    clickhouse_table: str | None = None
    clickhouse_cluster: str | None = None
    kafka_topic: str | None = None
    kafka_key_field: str | None = None


class Slos(_Model):
    """Service-level objectives and quality gates."""

    freshness_target_minutes: int | None = Field(None, ge=0)
    accuracy_threshold: float | None = Field(None, ge=0, le=1)
    completeness_threshold: float | None = Field(None, ge=0, le=1)
    availability_target: float | None = Field(None, ge=0, le=1)
    block_on_schema_drift: bool = True
    block_on_quality_drop: bool = True


class RetryConfig(_Model):
    """Run retries: exponential backoff with jitter."""

    max_attempts: int = Field(3, ge=1)
    backoff_seconds: float = Field(30, ge=0)
    max_backoff_seconds: float = Field(900, ge=0)


class ProviderSettings(_OpenModel):
    """`provider.config`: known keys are typed, any other key is the user's own (e.g. lists)."""

    execution_engine: EngineName | None = Field(None, description="spark, flink or seatunnel.")
    lookback_days: int = Field(1, ge=0, description="Window length before the logical date.")
    fan_out: dict[str, Any] | None = Field(
        None, description="Variable → list, or a template naming a list in config."
    )
    spark_config: dict[str, Any] | None = Field(None, description="Extra Spark settings.")
    executor_memory: str | None = None
    driver_memory: str | None = None
    request_timeout_seconds: float | None = Field(None, gt=0)
    concurrent_requests: int | None = Field(None, ge=1)
    max_runtime_minutes: int | None = Field(
        None, ge=1, description="A longer run is stopped and fails; default: the worker's limit."
    )
    allowed_origins: list[str] | None = Field(
        None,
        description="Origins (https://host[:port]) besides base_url's that next URLs and "
        "redirects may lead to; requests there carry the credentials too.",
    )


class GlobalConfig(_OpenModel):
    """`global_config`: free-form, with two known keys."""

    secrets: dict[str, str] | None = Field(None, description="Secret name → secret reference.")
    seatunnel_env: dict[str, Any] | None = Field(None, description="Merged into SeaTunnel `env`.")


class Provider(_Model):
    """The data source: how to reach it, what to read and where it lands."""

    name: str = Field(description="Machine name.")
    display_name: str
    description: str | None = None
    provider_type: ProviderType
    base_url: str | None = Field(None, description="Required for rest_api and graphql.")
    config: ProviderSettings | None = None
    credentials_ref: str | None = Field(
        None, description="Secret reference: env:NAME, file:PATH, vault://MOUNT/PATH#KEY."
    )
    schedule_cron: str | None = Field(None, description="5 fields, 6 with seconds, or @daily…")
    schedule_timezone: str = Field("UTC", description="IANA time zone.")
    tenant_id: str
    owner: str
    tags: list[str] | None = None
    endpoints: list[Endpoint] = Field(default_factory=list)
    transforms: list[Transform] = Field(default_factory=list)
    sinks: list[Sink]
    schema_contract: dict[str, Any] | None = Field(
        None, description="JSON Schema of the output records."
    )
    slos: Slos | None = None
    mode: Mode = "batch"
    parallelism: int = Field(1, ge=1)
    retry_config: RetryConfig | None = None

    @property
    def settings(self) -> ProviderSettings:
        return self.config if self.config is not None else ProviderSettings()

    @property
    def active_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.is_active]


class Spec(_Model):
    """A UIS 1.1 document; the base of every version."""

    model_config = ConfigDict(title="UIS 1.1")

    version: Version = Field("1.1", description='"1.1" or "1.2".')
    name: str = Field(description="Spec name; used in job names and metric labels.")
    description: str | None = None
    provider: Provider
    global_config: GlobalConfig | None = None
    created_at: str | None = None
    created_by: str

    @property
    def secrets(self) -> dict[str, str]:
        found = self.global_config.secrets if self.global_config else None
        return dict(found or {})

    @property
    def compatibility(self) -> CompatMode:
        """Allowed schema evolution; 1.1 documents have no field and mean BACKWARD."""
        return "BACKWARD"


class SpecV12(Spec):
    """A UIS 1.2 document: 1.1 plus schema-registry subject and compatibility mode."""

    model_config = ConfigDict(title="UIS 1.2")

    schema_ref: str | None = Field(
        None, alias="schemaRef", description="Schema-registry subject of the output records."
    )
    compat_mode: CompatMode = Field(
        "BACKWARD", alias="compatMode", description="Allowed schema evolution of the output table."
    )

    @property
    def compatibility(self) -> CompatMode:
        return self.compat_mode


MODELS: dict[str, type[Spec]] = {"1.1": Spec, "1.2": SpecV12}
