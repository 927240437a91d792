"""Endpoint rules: pagination, rate limits, auth, response paths, field mapping, literal secrets."""

from __future__ import annotations

from collections import defaultdict

from uis_compiler import codes, jsonpath
from uis_compiler.models import Endpoint
from uis_compiler.pagination import COMMON_KEYS, KEYS_BY_MODE
from uis_compiler.rules.context import Context
from uis_compiler.rules.provider import report_literal_secret
from uis_compiler.secrets import literal_in_url, looks_like_secret
from uis_compiler.templates import has_template, is_single_template
from uis_compiler.types import Path

_AUTHENTICATED = frozenset({"api_key", "bearer", "basic", "oauth2", "hmac"})


def check_endpoints(ctx: Context) -> None:
    groups: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    for path, endpoint in ctx.endpoints():
        _pagination(ctx, path, endpoint)
        _auth(ctx, path, endpoint)
        _paths(ctx, path, endpoint)
        _literal_secrets(ctx, path, endpoint)
        if endpoint.rate_limit_per_second is not None:
            group = endpoint.rate_limit_group or endpoint.name
            groups[group].append((path, endpoint.rate_limit_per_second))
    for group, members in groups.items():
        rates = sorted({rate for _, rate in members})
        if len(rates) > 1:
            for path, rate in members:
                ctx.report(
                    codes.RATE_LIMIT_CONFLICT,
                    (*path, "rate_limit_per_second"),
                    f"rate-limit group `{group}` has rates {', '.join(map(str, rates))}; "
                    f"this endpoint sets {rate}",
                    "endpoints in one group share one limit: give them the same rate",
                )


def _pagination(ctx: Context, path: Path, endpoint: Endpoint) -> None:
    config = endpoint.pagination_config
    config_path = (*path, "pagination_config")
    if endpoint.pagination == "none":
        if config is not None and config.model_fields_set:
            ctx.report(
                codes.PAGINATION_CONFIG_IGNORED,
                config_path,
                "`pagination_config` is set but `pagination` is `none`, so it is ignored",
                "set `pagination:` to cursor, offset or page, or remove pagination_config",
            )
        return
    if config is None:
        ctx.report(
            codes.PAGINATION_CONFIG_MISSING,
            path,
            f"`pagination: {endpoint.pagination}` needs a `pagination_config`",
            _CONFIG_EXAMPLES[endpoint.pagination],
        )
        return
    used = KEYS_BY_MODE[endpoint.pagination] | COMMON_KEYS
    for key in sorted(config.model_fields_set - used):
        if getattr(config, key) is not None:
            ctx.report(
                codes.PAGINATION_KEY_UNUSED,
                (*config_path, key),
                f"`{key}` has no effect with `pagination: {endpoint.pagination}`",
                f"{endpoint.pagination} pagination reads: {', '.join(sorted(used))}",
                at_key=True,
            )
    for key, minimum in (("page_size", 1), ("max_pages", 1), ("start_page", 0)):
        value = getattr(config, key)
        if value is not None and value < minimum:
            ctx.report(
                codes.PAGINATION_VALUE_INVALID,
                (*config_path, key),
                f"`{key}` is {value}; it must be at least {minimum}",
            )
    if endpoint.pagination == "cursor":
        if config.cursor_path is not None and config.cursor_param is None:
            ctx.report(
                codes.PAGINATION_VALUE_INVALID,
                (*config_path, "cursor_path"),
                "`cursor_path` reads a token, but `cursor_param` (where to send it) is missing",
                "add e.g. `cursor_param: cursor`",
            )
        if config.cursor_path is not None and config.next_url_path is not None:
            ctx.report(
                codes.PAGINATION_VALUE_INVALID,
                (*config_path, "next_url_path"),
                "set either `next_url_path` (follow a full URL) or `cursor_path` (send a token), "
                "not both",
            )
    for key in ("next_url_path", "cursor_path"):
        value = getattr(config, key)
        if value is not None:
            check_json_path(ctx, (*config_path, key), value)


_CONFIG_EXAMPLES = {
    "cursor": "add `pagination_config: {next_url_path: $.next_url}` (a next-page URL) or "
    "`{cursor_path: $.meta.next, cursor_param: cursor}` (a token)",
    "offset": "add `pagination_config: {offset_param: offset, limit_param: limit, page_size: 100}`",
    "page": "add `pagination_config: {page_param: page, page_size_param: per_page, page_size: 100}`",
}


def check_json_path(ctx: Context, path: Path, value: str) -> None:
    try:
        jsonpath.parse(value)
    except jsonpath.JsonPathError as exc:
        ctx.report(codes.JSON_PATH_INVALID, path, str(exc), "e.g. `$.results` or `$.data[*]`")


def _auth(ctx: Context, path: Path, endpoint: Endpoint) -> None:
    auth = endpoint.auth
    config = endpoint.auth_config
    if auth is None or auth == "none":
        return
    if auth in _AUTHENTICATED and ctx.spec.provider.credentials_ref is None:
        secrets_in_headers = any(
            "secrets." in value for value in (endpoint.headers or {}).values()
        ) or (config is not None and config.header_format and "secrets." in config.header_format)
        if not secrets_in_headers:
            ctx.report(
                codes.CREDENTIALS_MISSING,
                (*path, "auth"),
                f"`auth: {auth}` but the provider has no `credentials_ref`: requests go "
                "unauthenticated",
                "set `provider.credentials_ref`, e.g. `env:HEADWATER_SECRET_API_KEY`",
            )
    needed: str | None = None
    if auth == "oauth2" and (config is None or not config.token_url):
        needed = "token_url"
    elif auth == "hmac" and (config is None or not config.signature_header):
        needed = "signature_header"
    elif (
        auth == "api_key"
        and config is not None
        and config.location == "query"
        and not config.param_name
    ):
        needed = "param_name"
    if needed is not None:
        ctx.report(
            codes.AUTH_CONFIG_INCOMPLETE,
            (*path, "auth_config") if config is not None else (*path, "auth"),
            f"`auth: {auth}` needs `auth_config.{needed}`",
            f"add `auth_config: {{{needed}: …}}`",
        )


def _paths(ctx: Context, path: Path, endpoint: Endpoint) -> None:
    if endpoint.response_path is not None:
        check_json_path(ctx, (*path, "response_path"), endpoint.response_path)
    for column, source in (endpoint.field_mapping or {}).items():
        try:
            if has_template(source):
                # A whole-value variable (e.g. the fan-out ticker); checked with templates.
                if not is_single_template(source):
                    raise jsonpath.JsonPathError(
                        f"`{source}` mixes text and a template; a mapped column is either a "
                        "field path or exactly one `{{ variable }}`"
                    )
                continue
            jsonpath.parse_field(source)
        except jsonpath.JsonPathError as exc:
            ctx.report(
                codes.FIELD_PATH_INVALID,
                (*path, "field_mapping", column),
                str(exc),
                "map `column: source_field`; nested fields are `outer.inner`",
            )


def _literal_secrets(ctx: Context, path: Path, endpoint: Endpoint) -> None:
    # An error, not a warning: a stored spec is shown to every key that may read it.
    for section, values in (
        ("headers", endpoint.headers or {}),
        ("query_params", endpoint.query_params or {}),
    ):
        for name, value in values.items():
            if isinstance(value, str) and looks_like_secret(name, value):
                report_literal_secret(
                    ctx,
                    (*path, section, name),
                    f"`{section}.{name}` looks like a literal credential",
                )
    found = literal_in_url(endpoint.path or "")
    if found is not None:
        report_literal_secret(ctx, (*path, "path"), f"the path holds {found}")
