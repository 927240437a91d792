"""The Spark plan: everything the runner's generic ingest job needs, as versioned JSON.

The plan is self-contained (config values inlined, defaults applied) and keeps secrets as
placeholders: ``{{ secrets.NAME }}`` (a reference listed in ``secrets``) and
``{{ credentials.KEY }}`` (a key of the ``credentials`` reference). Other placeholders are request
variables: fan-out values, ``start_date``/``end_date``, ``run_id``/``logical_date`` and run
parameters. Its JSON Schema is exported to ``uis_compiler/schemas/spark-plan-1.schema.json``.

Version history: 1 — the first plan format (``execution`` added later, with defaults, so
earlier plans still read).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from uis_compiler.columns import ColumnType
from uis_compiler.models import CompatMode, HttpMethod, Mode, PaginationType
from uis_compiler.sinks import WriteMode
from uis_compiler.spark_tuning import refused
from uis_compiler.table_properties import refused as refused_properties

PLAN_VERSION: Literal["1"] = "1"


def _unless_refused(
    field: str, value: dict[str, str], found: list[tuple[str, str]]
) -> dict[str, str]:
    """``value``, unless it holds keys a spec may not set: checked again here, not only in
    validation, as a job never trusts the plan it is handed."""
    if found:
        raise ValueError(f"{field}: {'; '.join(why for _, why in found)}")
    return value


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpecInfo(_Plan):
    """Where the plan came from."""

    name: str
    uis_version: str
    provider: str
    display_name: str
    tenant_id: str
    owner: str
    schema_ref: str | None = None
    compat_mode: CompatMode = "BACKWARD"


class Window(_Plan):
    """How a run's date window is derived when no backfill window is given."""

    lookback_days: int = Field(ge=0)


class RequestRetry(_Plan):
    """Per-request retries: 429 (honouring Retry-After), 5xx and connection errors only."""

    max_attempts: int = Field(ge=1)
    backoff_seconds: float = Field(ge=0)
    max_backoff_seconds: float = Field(ge=0)


class Http(_Plan):
    """Client settings shared by every request."""

    base_url: str
    #: Origins besides base_url's that requests (and credentials) may go to.
    allowed_origins: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(gt=0)
    concurrent_requests: int = Field(ge=1)
    retry: RequestRetry


class Auth(_Plan):
    """How a request is authenticated; values are placeholders, resolved inside the job."""

    type: Literal["api_key", "bearer", "basic", "oauth2", "hmac"]
    location: Literal["header", "query"] = "header"
    name: str | None = Field(None, description="Header or query parameter name.")
    value: str | None = Field(None, description="Header or parameter value template.")
    username: str | None = None
    password: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=list)
    signature_algorithm: str | None = None


class Pagination(_Plan):
    """Pagination with defaults applied (see uis_compiler.pagination.Paging)."""

    mode: PaginationType
    max_pages: int = Field(ge=1)
    page_size: int | None = None
    next_url_path: str | None = None
    cursor_path: str | None = None
    cursor_param: str | None = None
    offset_param: str | None = None
    limit_param: str | None = None
    page_param: str | None = None
    page_size_param: str | None = None
    start_page: int | None = None


class Column(_Plan):
    """An output column: from a record field (``source``) or a request variable."""

    name: str
    source: list[str] | None = Field(None, description="Dotted field path, split into keys.")
    variable: str | None = Field(None, description="A request variable, e.g. the fan-out ticker.")
    type: ColumnType | None = Field(None, description="From schema_contract; None = inferred.")


class Endpoint(_Plan):
    """One endpoint's request chain template and record mapping; its records form a view."""

    name: str
    view: str
    method: HttpMethod
    url: str = Field(description="base_url + path, a template.")
    headers: dict[str, str]
    query: dict[str, str]
    body: str | None = None
    auth: Auth | None = None
    pagination: Pagination
    response_path: str
    columns: list[Column] | None = Field(None, description="Absent: every field, as is.")
    rate_limit_group: str | None = None
    fan_out: list[str] = Field(description="Fan-out variables this endpoint iterates.")
    variables: list[str] = Field(description="Every variable its templates use.")


class Transform(_Plan):
    """A Spark SQL query or a Python DataFrame function over named views."""

    name: str
    type: Literal["sql", "python"]
    sql: str | None = None
    module: str | None = None
    function: str | None = None
    views: dict[str, str] = Field(default_factory=dict, description="Alias → view.")


CheckKind = Literal["not_null", "range", "type", "unique", "non_empty"]


class Check(_Plan):
    """One quality check, run on a view before the commit."""

    name: str
    kind: CheckKind
    view: str
    columns: list[str] = Field(default_factory=list)
    threshold: float = Field(1.0, ge=0, le=1, description="Fraction of rows that must pass.")
    min: float | None = None
    max: float | None = None
    type: ColumnType | None = None


class Quality(_Plan):
    """Checks, and whether a failure blocks the commit."""

    block_on_failure: bool
    checks: list[Check]


class Contract(_Plan):
    """The declared output schema (empty without a schema_contract) and the drift policy."""

    columns: dict[str, ColumnType]
    required: list[str]
    block_on_schema_drift: bool
    compat_mode: CompatMode


class Sink(_Plan):
    """Where a view lands."""

    type: Literal["iceberg", "parquet", "postgres"]
    view: str
    namespace: str | None = None
    table: str | None = None
    write_mode: WriteMode = "append"
    primary_key: list[str] = Field(default_factory=list)
    partition_by: list[str] = Field(default_factory=list, description="Iceberg DDL transforms.")
    format_version: int = Field(2, ge=1, le=3)
    catalog: str | None = Field(None, description="Overrides the platform's catalog.")
    warehouse: str | None = Field(None, description="Overrides the platform's warehouse.")
    properties: dict[str, str] = Field(
        default_factory=dict, description="Known Iceberg table properties only."
    )
    path: str | None = None
    url: str | None = None
    credentials: str | None = Field(None, description="Secret name in `secrets`.")

    @field_validator("properties")
    @classmethod
    def _known_properties(cls, value: dict[str, str]) -> dict[str, str]:
        return _unless_refused("properties", value, refused_properties(value))


class Execution(_Plan):
    """How the worker runs the plan: attempts of a run, its longest duration, its resources."""

    max_attempts: int = Field(3, ge=1, description="Attempts of a run, the first included.")
    backoff_seconds: float = Field(30, ge=0, description="Before the second attempt.")
    max_backoff_seconds: float = Field(900, ge=0)
    max_runtime_seconds: int | None = Field(
        None, ge=1, description="A longer run is stopped and fails; None: the worker's limit."
    )
    driver_memory: str | None = None
    executor_memory: str | None = None


class SparkPlan(_Plan):
    """A compiled UIS spec for Headwater's Spark ingest job."""

    model_config = ConfigDict(title="Headwater Spark plan")

    plan_version: Literal["1"] = PLAN_VERSION
    spec: SpecInfo
    mode: Mode
    parallelism: int = Field(ge=1)
    window: Window
    fan_out: dict[str, list[str]]
    parameters: list[str] = Field(description="Run parameters a run must supply.")
    secrets: dict[str, str] = Field(
        description="Name → secret reference; `credentials` is credentials_ref."
    )
    http: Http | None = None
    rate_limits: dict[str, float]
    endpoints: list[Endpoint]
    transforms: list[Transform]
    quality: Quality
    contract: Contract | None = None
    sinks: list[Sink]
    spark_config: dict[str, str]
    execution: Execution = Field(default_factory=Execution)

    @field_validator("spark_config")
    @classmethod
    def _tuning_only(cls, value: dict[str, str]) -> dict[str, str]:
        return _unless_refused("spark_config", value, refused(value))


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format."""
    schema = SparkPlan.model_json_schema()
    schema["$id"] = f"https://headwater.dev/schemas/spark-plan-{PLAN_VERSION}.schema.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
