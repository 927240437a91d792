"""Provider-wide rules: base URL, schedule, retries, secret references, names."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from uis_compiler import codes
from uis_compiler.grants import TENANT_ID, TENANT_ID_HINT
from uis_compiler.origins import check_origin_entry
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.schedule import CRON_HINT, ScheduleError, check_cron, check_timezone
from uis_compiler.secrets import SecretRefError, UnknownSchemeError, literal_in_url, parse_ref
from uis_compiler.spark_tuning import HINT as TUNING_HINT
from uis_compiler.spark_tuning import refused
from uis_compiler.types import Path

_NEEDS_BASE_URL = frozenset({"rest_api", "graphql"})
_SOURCE_HAS_ENDPOINTS = frozenset({"rest_api", "graphql", "kafka", "database", "s3", "file_ftp"})


def check_provider(ctx: Context) -> None:
    _base_url(ctx)
    _allowed_origins(ctx)
    _schedule(ctx)
    _retry(ctx)
    _spark_config(ctx)
    _tenant(ctx)
    _secret_refs(ctx)
    _names(ctx)


def _base_url(ctx: Context) -> None:
    provider = ctx.spec.provider
    path = (*PROVIDER, "base_url")
    if provider.base_url is None:
        if provider.provider_type in _NEEDS_BASE_URL:
            ctx.report(
                codes.BASE_URL_REQUIRED,
                PROVIDER,
                f"a `{provider.provider_type}` provider needs `base_url`",
                "add e.g. `base_url: https://api.example.com`",
            )
        return
    if provider.provider_type not in _NEEDS_BASE_URL:
        return
    try:
        parts = urlsplit(provider.base_url)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced `[` that urllib reads as a broken IPv6 address
        host = None
    try:
        port_ok = host is None or parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, or beyond 65535
        port_ok = False
    if host is not None and not port_ok:
        ctx.report(
            codes.BASE_URL_INVALID,
            path,
            f"`{provider.base_url}` has a port that is not a number from 1 to 65535",
            "write the port as digits after the host, e.g. `http://127.0.0.1:8010`",
        )
    elif host is None or parts.scheme not in ("http", "https"):
        ctx.report(
            codes.BASE_URL_INVALID,
            path,
            f"`{provider.base_url}` is not an absolute http(s) URL",
            "write the scheme and host, e.g. `https://api.polygon.io`",
        )
    elif literal_in_url(provider.base_url) is not None:
        report_literal_secret(ctx, path, f"base_url holds {literal_in_url(provider.base_url)}")
    elif parts.scheme == "http":
        ctx.report(
            codes.INSECURE_BASE_URL,
            path,
            f"`{provider.base_url}` uses plain http://: credentials and data travel unencrypted",
            "use https:// unless the source is on a trusted local network",
        )


def _schedule(ctx: Context) -> None:
    provider = ctx.spec.provider
    if provider.schedule_cron is not None:
        try:
            check_cron(provider.schedule_cron)
        except ScheduleError as exc:
            ctx.report(codes.INVALID_CRON, (*PROVIDER, "schedule_cron"), str(exc), CRON_HINT)
    hint = check_timezone(provider.schedule_timezone)
    if hint is not None:
        ctx.report(
            codes.UNKNOWN_TIMEZONE,
            (*PROVIDER, "schedule_timezone"),
            f"`{provider.schedule_timezone}` is not an IANA time zone",
            hint,
        )


def _retry(ctx: Context) -> None:
    retry = ctx.spec.provider.retry_config
    if retry is not None and retry.max_backoff_seconds < retry.backoff_seconds:
        ctx.report(
            codes.RETRY_CONFIG_INVALID,
            (*PROVIDER, "retry_config", "max_backoff_seconds"),
            f"max_backoff_seconds ({retry.max_backoff_seconds:g}) is below backoff_seconds "
            f"({retry.backoff_seconds:g}): the first retry would already exceed the cap",
            "raise max_backoff_seconds or lower backoff_seconds",
        )


def report_literal_secret(ctx: Context, path: Path, finding: str) -> None:
    """A literal credential in the spec: an error, as a stored spec is shown to every reader."""
    ctx.report(
        codes.LITERAL_SECRET,
        path,
        f"{finding}; it would be stored with the spec and shown to everyone who can read it",
        "store it as a secret and write `{{ secrets.NAME }}` (NAME in global_config.secrets) "
        "or use credentials_ref",
    )


def _allowed_origins(ctx: Context) -> None:
    for index, text in enumerate(ctx.spec.provider.settings.allowed_origins or []):
        why = check_origin_entry(text)
        if why is not None:
            ctx.report(
                codes.ALLOWED_ORIGIN_INVALID,
                (*PROVIDER, "config", "allowed_origins", index),
                why,
                "write the origin alone, e.g. `https://files.example.com`",
            )


def _spark_config(ctx: Context) -> None:
    for key, why in refused(ctx.spec.provider.settings.spark_config or {}):
        ctx.report(
            codes.SPARK_CONFIG_NOT_ALLOWED,
            (*PROVIDER, "config", "spark_config", key),
            why,
            TUNING_HINT,
        )


def _tenant(ctx: Context) -> None:
    tenant = ctx.spec.provider.tenant_id
    if not TENANT_ID.match(tenant):
        ctx.report(
            codes.TENANT_ID_INVALID,
            (*PROVIDER, "tenant_id"),
            f"tenant_id `{tenant}` names the tenant's secrets directory and Vault prefix, "
            "so it must be one path-safe name",
            TENANT_ID_HINT,
        )


def check_secret_ref(ctx: Context, path: Path, reference: str) -> None:
    """Report a malformed reference (error), an unknown scheme (warning) or one not granted."""
    try:
        ref = parse_ref(reference)
    except UnknownSchemeError as exc:
        ctx.report(
            codes.SECRET_REF_UNKNOWN_SCHEME,
            path,
            f"{exc}; runs will fail when they try to resolve it",
            "use `env:NAME`, `file:PATH` or `vault://MOUNT/PATH#KEY`",
        )
        return
    except SecretRefError as exc:
        ctx.report(codes.SECRET_REF_INVALID, path, str(exc))
        return
    tenant = ctx.spec.provider.tenant_id
    grant = ctx.grants.for_tenant(tenant)
    why = grant.refusal(ref)
    if why is not None:
        ctx.report(
            codes.SECRET_REF_NOT_GRANTED,
            path,
            f"`{reference}`: {why}",
            _granted(grant.env_prefixes, grant.secrets_dir, grant.vault_prefix, tenant),
        )


def _granted(
    prefixes: tuple[str, ...], directory: str | None, vault: str | None, tenant: str
) -> str:
    kinds = [f"`env:{prefix}…`" for prefix in prefixes]
    if directory is not None:
        kinds.append(f"`file:NAME` (in {directory})")
    if vault is not None:
        kinds.append(f"`vault://{vault}…`")
    if not kinds:
        return f"tenant `{tenant}` is granted no secrets; ask the platform team for a grant"
    return f"tenant `{tenant}` may use " + ", ".join(kinds)


def _secret_refs(ctx: Context) -> None:
    provider = ctx.spec.provider
    if provider.credentials_ref is not None:
        check_secret_ref(ctx, (*PROVIDER, "credentials_ref"), provider.credentials_ref)
    for name, reference in ctx.spec.secrets.items():
        check_secret_ref(ctx, ("global_config", "secrets", name), reference)


def _names(ctx: Context) -> None:
    provider = ctx.spec.provider
    if not provider.sinks:
        ctx.report(
            codes.NO_SINKS,
            (*PROVIDER, "sinks"),
            "`provider.sinks` is empty; a provider writes to at least one sink",
            "add e.g. `- type: iceberg` with `table_name: namespace.table`",
        )
    if provider.provider_type in _SOURCE_HAS_ENDPOINTS and not provider.active_endpoints:
        ctx.report(
            codes.NO_ACTIVE_ENDPOINTS,
            (*PROVIDER, "endpoints"),
            "no active endpoint: runs of this provider read nothing",
            "add an endpoint, or set `is_active: true` on one",
        )
    seen = Counter(e.name for e in provider.endpoints)
    for index, endpoint in enumerate(provider.endpoints):
        if seen[endpoint.name] > 1:
            ctx.report(
                codes.DUPLICATE_NAME,
                (*PROVIDER, "endpoints", index, "name"),
                f"endpoint name `{endpoint.name}` is used {seen[endpoint.name]} times; "
                "each endpoint's records form a view of its name",
                "give each endpoint a unique name",
            )
    endpoint_names = set(seen)
    transform_seen = Counter(t.name for t in provider.transforms)
    for index, transform in enumerate(provider.transforms):
        clash = transform.name in endpoint_names
        if transform_seen[transform.name] > 1 or clash:
            what = "an endpoint" if clash else "another transform"
            ctx.report(
                codes.DUPLICATE_NAME,
                (*PROVIDER, "transforms", index, "name"),
                f"transform name `{transform.name}` is also the name of {what}; "
                "views would collide",
                "give each transform a name no endpoint or transform uses",
            )
