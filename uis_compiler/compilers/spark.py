"""UIS → Spark plan (JSON) and the spark-submit argument list that runs it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from uis_compiler import jsonpath, plan
from uis_compiler.columns import TYPE_NAMES, contract_columns, contract_required
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.resolve import (
    canonical,
    endpoint_variables,
    fan_out_lists,
    run_parameters,
    scalar_text,
    sink_secret,
)
from uis_compiler.models import Endpoint, Sink, Spec, SpecV12, Transform
from uis_compiler.origins import origin_of
from uis_compiler.pagination import resolve
from uis_compiler.plan import CheckKind
from uis_compiler.sinks import parse_partition, primary_key, source_view, write_mode
from uis_compiler.templates import WINDOW_VARIABLES, VariableKind, expressions, is_single_template

CREDENTIALS = "credentials"


@dataclass(frozen=True, slots=True)
class SparkCompilation:
    """The plan and how to submit it."""

    plan: plan.SparkPlan
    submit_args: tuple[str, ...]

    def to_json(self) -> str:
        """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
        body = {
            "plan": self.plan.model_dump(mode="json", exclude_none=True),
            "spark_submit": list(self.submit_args),
        }
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def compile_spark(spec: Spec, options: CompileOptions | None = None) -> SparkCompilation:
    """Compile a validated spec (no errors for the spark engine) into a Spark plan."""
    options = options or CompileOptions()
    built = build_plan(spec, options)
    return SparkCompilation(built, tuple(submit_args(built, options)))


def build_plan(spec: Spec, options: CompileOptions) -> plan.SparkPlan:
    provider = spec.provider
    settings = provider.settings
    contract = contract_columns(provider.schema_contract)
    secrets = dict(spec.secrets)
    if provider.credentials_ref is not None:
        secrets[CREDENTIALS] = provider.credentials_ref
    slos = provider.slos
    endpoints = [_endpoint(spec, e, contract) for e in provider.active_endpoints]
    sinks = [_sink(spec, index, sink) for index, sink in enumerate(provider.sinks)]
    for index, sink in enumerate(provider.sinks):
        reference = sink.config.get("credentials_ref")
        if isinstance(reference, str):
            secrets[sink_secret(index)] = reference
    return plan.SparkPlan(
        spec=plan.SpecInfo(
            name=spec.name,
            uis_version=spec.version,
            provider=provider.name,
            display_name=provider.display_name,
            tenant_id=provider.tenant_id,
            owner=provider.owner,
            schema_ref=spec.schema_ref if isinstance(spec, SpecV12) else None,
            compat_mode=spec.compatibility,
        ),
        mode=provider.mode,
        parallelism=provider.parallelism,
        window=plan.Window(lookback_days=settings.lookback_days),
        fan_out=fan_out_lists(spec),
        parameters=run_parameters(spec),
        secrets=dict(sorted(secrets.items())),
        http=_http(spec, options) if provider.base_url else None,
        rate_limits=_rate_limits(spec),
        endpoints=endpoints,
        transforms=[_transform(t) for t in provider.transforms],
        quality=plan.Quality(
            block_on_failure=slos.block_on_quality_drop if slos else True,
            checks=_checks(spec, sinks),
        ),
        # Always present: the drift policy applies against the table even without a contract.
        contract=plan.Contract(
            columns=contract,
            required=contract_required(provider.schema_contract),
            block_on_schema_drift=slos.block_on_schema_drift if slos else True,
            compat_mode=spec.compatibility,
        ),
        sinks=sinks,
        spark_config={k: scalar_text(v) for k, v in sorted((settings.spark_config or {}).items())},
        execution=_execution(spec),
    )


def _execution(spec: Spec) -> plan.Execution:
    provider = spec.provider
    retry = provider.retry_config
    settings = provider.settings
    minutes = settings.max_runtime_minutes
    return plan.Execution(
        **(retry.model_dump() if retry is not None else {}),
        max_runtime_seconds=minutes * 60 if minutes is not None else None,
        driver_memory=settings.driver_memory,
        executor_memory=settings.executor_memory,
    )


def _http(spec: Spec, options: CompileOptions) -> plan.Http:
    settings = spec.provider.settings
    spark = options.spark
    return plan.Http(
        base_url=(spec.provider.base_url or "").rstrip("/"),
        allowed_origins=[origin_of(text) for text in settings.allowed_origins or []],
        timeout_seconds=settings.request_timeout_seconds or spark.request_timeout_seconds,
        concurrent_requests=settings.concurrent_requests or spark.concurrent_requests,
        retry=plan.RequestRetry(
            max_attempts=spark.request_attempts,
            backoff_seconds=spark.request_backoff_seconds,
            max_backoff_seconds=spark.request_max_backoff_seconds,
        ),
    )


def _rate_limits(spec: Spec) -> dict[str, float]:
    limits: dict[str, float] = {}
    for endpoint in spec.provider.active_endpoints:
        if endpoint.rate_limit_per_second is not None:
            group = endpoint.rate_limit_group or endpoint.name
            limits[group] = float(endpoint.rate_limit_per_second)
    return dict(sorted(limits.items()))


def _endpoint(spec: Spec, endpoint: Endpoint, contract: dict[str, Any]) -> plan.Endpoint:
    base = (spec.provider.base_url or "").rstrip("/")
    path = endpoint.path if endpoint.path.startswith("/") else f"/{endpoint.path}"
    variables = endpoint_variables(spec, endpoint)
    group = endpoint.rate_limit_group
    if group is None and endpoint.rate_limit_per_second is not None:
        group = endpoint.name
    return plan.Endpoint(
        name=endpoint.name,
        view=endpoint.name,
        method=endpoint.method,
        url=canonical(spec, f"{base}{path}"),
        headers={k: canonical(spec, v) for k, v in sorted((endpoint.headers or {}).items())},
        query={
            k: canonical(spec, scalar_text(v))
            for k, v in sorted((endpoint.query_params or {}).items())
        },
        body=canonical(spec, endpoint.body_template) if endpoint.body_template else None,
        auth=_auth(spec, endpoint),
        pagination=_pagination(endpoint),
        response_path=endpoint.response_path or "$",
        columns=_columns(endpoint, contract),
        rate_limit_group=group,
        fan_out=[name for name, kind in variables.items() if kind is VariableKind.FAN_OUT],
        variables=list(variables),
    )


def _auth(spec: Spec, endpoint: Endpoint) -> plan.Auth | None:
    auth = endpoint.auth
    config = endpoint.auth_config
    if auth is None or auth == "none":
        return None

    def fmt(default: str) -> str:
        given = config.header_format if config is not None else None
        return canonical(spec, given) if given else default

    header = config.header_name if config is not None else None
    if auth == "api_key":
        location = (config.location if config is not None else None) or "header"
        name = (config.param_name if location == "query" else header) if config else None
        return plan.Auth(
            type="api_key",
            location=location,
            name=name or "X-API-Key",
            value=fmt("{{ credentials.api_key }}"),
        )
    if auth == "bearer":
        return plan.Auth(
            type="bearer",
            name=header or "Authorization",
            value=fmt("Bearer {{ credentials.token }}"),
        )
    if auth == "basic":
        return plan.Auth(
            type="basic",
            name="Authorization",
            username="{{ credentials.username }}",
            password="{{ credentials.password }}",
        )
    if auth == "oauth2":
        assert config is not None and config.token_url
        return plan.Auth(
            type="oauth2",
            name=header or "Authorization",
            token_url=config.token_url,
            client_id="{{ credentials.client_id }}",
            client_secret="{{ credentials.client_secret }}",
            scopes=list(config.scopes or []),
        )
    assert config is not None and config.signature_header
    return plan.Auth(
        type="hmac",
        name=config.signature_header,
        value="{{ credentials.secret }}",
        signature_algorithm=config.signature_algorithm or "sha256",
    )


def _pagination(endpoint: Endpoint) -> plan.Pagination:
    paging = resolve(endpoint)
    mode = paging.mode
    return plan.Pagination(
        mode=mode,
        max_pages=paging.max_pages,
        page_size=paging.page_size,
        next_url_path=paging.next_url_path,
        cursor_path=paging.cursor_path,
        cursor_param=paging.cursor_param,
        offset_param=paging.offset_param if mode == "offset" else None,
        # A cursor API takes its page size as a limit too (when page_size is set).
        limit_param=paging.limit_param
        if mode == "offset" or (mode == "cursor" and paging.page_size is not None)
        else None,
        page_param=paging.page_param if mode == "page" else None,
        page_size_param=paging.page_size_param if mode == "page" else None,
        start_page=paging.start_page if mode == "page" else None,
    )


def _columns(endpoint: Endpoint, contract: dict[str, Any]) -> list[plan.Column] | None:
    if endpoint.field_mapping is None:
        return None
    declared = {
        name: TYPE_NAMES[kind.lower()]
        for name, kind in (
            (endpoint.validation_rules and endpoint.validation_rules.field_types) or {}
        ).items()
    }
    columns = []
    for name, source in endpoint.field_mapping.items():
        kind = contract.get(name) or declared.get(name)
        if is_single_template(source):
            variable = canonical_variable(source)
            columns.append(plan.Column(name=name, variable=variable, type=kind))
        else:
            columns.append(
                plan.Column(name=name, source=list(jsonpath.parse_field(source)), type=kind)
            )
    return columns


def canonical_variable(template: str) -> str:
    """``{{ from_date }}`` → ``start_date``; ``{{ ticker }}`` → ``ticker``."""
    (expr,) = expressions(template)
    return WINDOW_VARIABLES.get(expr, expr)


def _transform(transform: Transform) -> plan.Transform:
    views = (transform.parameters or {}).get("views") or {}
    if transform.type == "python":
        return plan.Transform(
            name=transform.name,
            type="python",
            module=transform.python_module,
            function=transform.python_function,
            views=dict(sorted(views.items())),
        )
    return plan.Transform(
        name=transform.name, type="sql", sql=transform.sql_query, views=dict(sorted(views.items()))
    )


def _sink(spec: Spec, index: int, sink: Sink) -> plan.Sink:
    view = source_view(spec, sink)
    assert view is not None
    config = sink.config
    partitions = [parse_partition(p).expression for p in sink.partition_by or []]
    if sink.type == "iceberg":
        assert sink.table_name is not None
        namespace, table = sink.table_name.split(".")
        properties = config.get("properties") or {}
        return plan.Sink(
            type="iceberg",
            view=view,
            namespace=namespace,
            table=table,
            write_mode=write_mode(sink),
            primary_key=primary_key(sink),
            partition_by=partitions,
            format_version=int(config.get("format-version", 2)),
            catalog=config.get("catalog"),
            warehouse=config.get("warehouse"),
            properties={str(k): scalar_text(v) for k, v in sorted(properties.items())},
        )
    if sink.type == "parquet":
        return plan.Sink(
            type="parquet",
            view=view,
            path=str(config["path"]),
            write_mode="overwrite_partitions"
            if write_mode(sink) == "overwrite_partitions"
            else "append",
            partition_by=partitions,
        )
    assert sink.type == "postgres"
    reference = config.get("credentials_ref")
    return plan.Sink(
        type="postgres",
        view=view,
        url=str(config["url"]),
        table=str(config.get("table") or sink.table_name),
        write_mode="merge" if write_mode(sink) == "merge" else "append",
        primary_key=primary_key(sink),
        credentials=sink_secret(index) if isinstance(reference, str) else None,
    )


def _check(kind: CheckKind, view: str, columns: list[str], **bounds: Any) -> plan.Check:
    """A check named ``view.col1+col2.kind`` (names are unique, so duplicates collapse)."""
    name = ".".join([view, *(["+".join(columns)] if columns else []), kind])
    return plan.Check(name=name, kind=kind, view=view, columns=columns, **bounds)


def _checks(spec: Spec, sinks: list[plan.Sink]) -> list[plan.Check]:
    provider = spec.provider
    threshold = (provider.slos.completeness_threshold if provider.slos else None) or 1.0
    checks: list[plan.Check] = []
    for endpoint in provider.active_endpoints:
        rules = endpoint.validation_rules
        if rules is None:
            continue
        view = endpoint.name
        checks += [
            _check("not_null", view, [column], threshold=threshold)
            for column in rules.required_fields or []
        ]
        checks += [
            _check("range", view, [column], min=low, max=high)
            for column, (low, high) in (rules.numeric_ranges or {}).items()
        ]
        checks += [
            _check("type", view, [column], type=TYPE_NAMES[kind.lower()])
            for column, kind in (rules.field_types or {}).items()
        ]
        if rules.unique:
            checks.append(_check("unique", view, list(rules.unique)))
    required = contract_required(provider.schema_contract)
    for view in sorted({sink.view for sink in sinks}):
        checks.append(_check("non_empty", view, []))
        checks += [_check("not_null", view, [column], threshold=threshold) for column in required]
    unique: dict[str, plan.Check] = {}
    for check in checks:
        unique.setdefault(check.name, check)
    return list(unique.values())


def submit_args(built: plan.SparkPlan, options: CompileOptions) -> list[str]:
    """spark-submit options (only real ones), the application, and its `--plan` argument."""
    spark = options.spark
    catalog = options.catalog
    prefix = f"spark.sql.catalog.{catalog.name}"
    # The platform's keys come last so they win over anything a plan carries.
    conf = {
        **built.spark_config,
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "jdbc",
        f"{prefix}.uri": catalog.uri,
        f"{prefix}.jdbc.user": catalog.user,
        f"{prefix}.warehouse": catalog.warehouse,
        "spark.app.name": f"headwater-{built.spec.name}",
        # A job opens no port beyond loopback that it does not need: no web UI at all, and on
        # a local master the driver listens on loopback only (a cluster's executors need it).
        "spark.ui.enabled": "false",
    }
    if spark.master.startswith("local"):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    args = [
        "--master",
        spark.master,
        "--deploy-mode",
        spark.deploy_mode,
        "--name",
        f"headwater-{built.spec.name}",
    ]
    for key in sorted(conf):
        args += ["--conf", f"{key}={conf[key]}"]
    memory = {
        "driver": built.execution.driver_memory,
        "executor": built.execution.executor_memory,
    }
    for which in ("driver", "executor"):
        value = memory[which]
        if value and f"spark.{which}.memory" not in built.spark_config:
            args += [f"--{which}-memory", value]
    if spark.packages:
        args += ["--packages", ",".join(spark.packages)]
    if spark.jars:
        args += ["--jars", ",".join(spark.jars)]
    args += [spark.application, "--plan", spark.plan_path]
    return args
