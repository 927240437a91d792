"""SeaTunnel source plugins for UIS endpoints: Http, Kafka and Jdbc (files: seatunnel_files)."""

# Option names are the ones verified for SeaTunnel 2.3.11 (docs, e2e configs, connector source);
# what UIS can say but those options cannot is reported, never approximated silently.

from __future__ import annotations

import re
from collections.abc import Mapping

from uis_compiler import codes, jsonpath
from uis_compiler.compilers.hocon import Block, Comment, Entry, Name, Value
from uis_compiler.compilers.resolve import scalar_text
from uis_compiler.compilers.seatunnel_context import (
    Context,
    Shape,
    endpoint_path,
    is_sql_identifier,
    needs_shape,
    schema,
)
from uis_compiler.compilers.seatunnel_files import ftp_source, s3_source
from uis_compiler.models import Endpoint
from uis_compiler.pagination import resolve
from uis_compiler.types import Path

#: Streaming Http sources poll again after this long; UIS has no poll interval of its own.
STREAM_POLL_MILLIS = 60_000
PAGING_HINT = "use page or token-cursor pagination, or the Spark engine"
JDBC_DRIVERS = {
    "jdbc:postgresql:": "org.postgresql.Driver",
    "jdbc:mysql:": "com.mysql.cj.jdbc.Driver",
}
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def source_plugin(
    ctx: Context,
    index: int,
    endpoint: Endpoint,
    shape: Shape | None,
    fan_out: Mapping[str, str],
    output: str,
) -> tuple[str, Block]:
    """The plugin name and options that read one request chain of an endpoint into ``output``."""
    kind = ctx.spec.provider.provider_type
    head: list[Entry | Comment] = [("plugin_output", output)]
    if kind in ("rest_api", "graphql"):
        return "Http", Block((*head, *_http(ctx, index, endpoint, shape, fan_out)))
    path = endpoint_path(index)
    if endpoint.auth not in (None, "none"):
        ctx.unsupported(
            (*path, "auth"),
            f"`auth: {endpoint.auth}` applies to HTTP requests; a `{kind}` source has no such setting",
            "remove `auth` and put the connection's credentials in provider.credentials_ref",
        )
    if shape is not None and shape.paths:
        ctx.unsupported(
            (*path, "field_mapping"),
            f"a `{kind}` source reads top-level fields by name; nested paths (`a.b`), one field "
            "mapped to two columns, or a template column named like a source field need the Http "
            "source's json_field",
            "map each column from its own top-level field",
        )
    if kind == "kafka":
        return "Kafka", Block((*head, *_kafka(ctx, index, endpoint, shape, fan_out)))
    if kind == "database":
        return "Jdbc", Block((*head, *_jdbc(ctx, index, endpoint, shape, fan_out)))
    if kind == "s3":
        return "S3File", Block((*head, *s3_source(ctx, index, endpoint, shape, fan_out)))
    if kind == "file_ftp":
        return "FtpFile", Block((*head, *ftp_source(ctx, index, endpoint, shape, fan_out)))
    ctx.unsupported(
        ("provider", "provider_type"),
        f"Headwater compiles no SeaTunnel source for a `{kind}` provider",
        "use rest_api, graphql, kafka, database, s3 or file_ftp",
    )
    return "Http", Block(tuple(head))


def _http(
    ctx: Context, index: int, endpoint: Endpoint, shape: Shape | None, fan_out: Mapping[str, str]
) -> list[Entry | Comment]:
    path = endpoint_path(index)
    provider = ctx.spec.provider
    base = (provider.base_url or "").rstrip("/")
    suffix = endpoint.path if endpoint.path.startswith("/") else f"/{endpoint.path}"
    entries: list[Entry | Comment] = [
        ("url", ctx.text(f"{base}{suffix}", fan_out, (*path, "path"), in_url=True))
    ]
    if endpoint.method not in ("GET", "POST"):
        ctx.unsupported(
            (*path, "method"),
            f"SeaTunnel's Http source sends GET and POST requests only, not {endpoint.method}",
            "use GET or POST, or the Spark engine",
        )
    entries.append(("method", endpoint.method))
    headers = {
        name: ctx.text(value, fan_out, (*path, "headers", name))
        for name, value in sorted((endpoint.headers or {}).items())
    }
    params = {
        name: ctx.text(scalar_text(value), fan_out, (*path, "query_params", name))
        for name, value in sorted((endpoint.query_params or {}).items())
    }
    _auth(ctx, path, endpoint, fan_out, headers, params)
    if endpoint.body_template is not None and "content-type" not in map(str.lower, headers):
        # 2.3.11 sends no Content-Type of its own (a default arrived in 2.3.12, #9497).
        headers["Content-Type"] = "application/json"
    paging = _paging(ctx, path, endpoint, params)
    if headers:
        entries.append(("headers", {Name(k): v for k, v in headers.items()}))
    if params:
        entries.append(("params", {Name(k): v for k, v in params.items()}))
    if endpoint.body_template is not None:
        body = ctx.text(endpoint.body_template, fan_out, (*path, "body_template"))
        entries.append(("body", body))
    entries.append(("format", "json"))
    if shape is None:
        ctx.unsupported(
            path,
            f"endpoint `{endpoint.name}` has no field_mapping: SeaTunnel's Http source reads JSON "
            "only through a schema of named fields",
            "add field_mapping (output column → source field)",
        )
    else:
        entries += _records(endpoint, shape)
        entries.append(("schema", schema(shape)))
    entries += paging
    settings = provider.settings
    if settings.request_timeout_seconds is not None:
        millis = round(settings.request_timeout_seconds * 1000)
        entries += [("connect_timeout_ms", millis), ("socket_timeout_ms", millis)]
    if provider.mode == "streaming":
        entries.append(Comment("UIS has no poll interval: a streaming job re-reads once a minute"))
        entries.append(("poll_interval_millis", STREAM_POLL_MILLIS))
    if endpoint.rate_limit_per_second is not None:
        entries.append(
            Comment(
                f"rate_limit_per_second {endpoint.rate_limit_per_second} is not enforced: the "
                "Http source has no request-rate option (env read_limit.rows_per_second limits "
                "rows, not requests)"
            )
        )
    return entries


def _auth(
    ctx: Context,
    path: Path,
    endpoint: Endpoint,
    fan_out: Mapping[str, str],
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    """Add the credential header or parameter; the secret stays a ``${…}`` job variable."""
    auth = endpoint.auth
    config = endpoint.auth_config
    if auth is None or auth == "none":
        return
    if auth in ("oauth2", "hmac"):
        what = "fetch OAuth2 tokens" if auth == "oauth2" else "sign requests (HMAC)"
        ctx.unsupported(
            (*path, "auth"),
            f"`auth: {auth}` cannot be expressed: SeaTunnel's Http source cannot {what}",
            "use api_key, bearer or basic auth, or the Spark engine",
        )
        return
    header = config.header_name if config is not None else None
    given = config.header_format if config is not None else None
    format_path = (*path, "auth_config", "header_format") if given else (*path, "auth")

    def value(default: str) -> str:
        return ctx.text(given or default, fan_out, format_path)

    if auth == "api_key":
        location = (config.location if config is not None else None) or "header"
        name = (config.param_name if location == "query" else header) if config else None
        target = params if location == "query" else headers
        target[name or "X-API-Key"] = value("{{ api_key }}")
    elif auth == "bearer":
        headers[header or "Authorization"] = value("Bearer {{ token }}")
    else:
        # The Http source has no basic-auth option; the submitter encodes the pair once.
        note = 'base64 of "username:password" from credentials_ref'
        headers["Authorization"] = "Basic " + ctx.variable("credentials_basic", path, note)


def _paging(
    ctx: Context, path: Path, endpoint: Endpoint, params: dict[str, str]
) -> list[Entry | Comment]:
    paging = resolve(endpoint)
    where = (*path, "pagination")
    if paging.mode == "none":
        return []
    if paging.mode == "offset":
        ctx.unsupported(
            where,
            "offset pagination cannot be expressed: SeaTunnel's Http source sends a page number "
            "or a cursor token, never a computed offset",
            PAGING_HINT,
        )
        return []
    if paging.mode == "cursor" and (paging.cursor_path is None or paging.cursor_param is None):
        ctx.unsupported(
            where,
            f"cursor pagination by next-page URL (`{paging.next_url_path}`) cannot be expressed: "
            "SeaTunnel's Http source cannot follow a URL from the response, it only sends a "
            "cursor token as a parameter",
            PAGING_HINT,
        )
        return []
    pageing: dict[str, Value]
    if paging.mode == "page":
        if paging.page_size is not None:
            params[paging.page_size_param] = str(paging.page_size)
        pageing = {
            "page_type": "PageNumber",
            "page_field": paging.page_param,
            "start_page_number": paging.start_page,
            # The reader stops on a page shorter than batch_size; with an unknown page size
            # only an empty page is a safe stop.
            "batch_size": paging.page_size or 1,
        }
        stop = "paging stops on a page shorter than batch_size"
    else:
        pageing = {
            "page_type": "Cursor",
            "cursor_field": paging.cursor_param,
            "cursor_response_field": paging.cursor_path,
        }
        stop = "paging stops when the response has no cursor"
    return [
        # Key-based page parameters are the pattern the 2.3.x placeholder bugs do not affect.
        ("keep_page_param_as_http_param", True),
        ("pageing", pageing),
        Comment(f"max_pages {paging.max_pages} is not enforced: {stop}"),
    ]


def records_path(response_path: str | None) -> str | None:
    """The JSONPath of every record (``$.results[*]``), or None when the body is the array."""
    text = (response_path or "$").strip()
    steps = jsonpath.parse(text)
    if not steps:
        return None
    # The reader reads with ALWAYS_RETURN_LIST: a path to the array itself would yield one row.
    return text if steps[-1] is None else f"{text}[*]"


def _records(endpoint: Endpoint, shape: Shape) -> list[Entry | Comment]:
    records = records_path(endpoint.response_path)
    if not shape.paths:
        return [("content_field", records)] if records is not None else []
    # json_field applies only without content_field, so each path starts at the response root.
    base = records or "$[*]"
    fields: dict[str, Value] = {
        Name(column): base + _json_steps(keys) for column, keys in shape.paths.items()
    }
    return [
        Comment("json_field zips one list per column: every record must hold every path"),
        ("json_field", fields),
    ]


def _json_steps(keys: tuple[str, ...]) -> str:
    quoted = (key.replace("\\", "\\\\").replace("'", "\\'") for key in keys)
    return "".join(
        f".{key}" if _PLAIN_KEY.match(key) else f"['{escaped}']"
        for key, escaped in zip(keys, quoted, strict=True)
    )


def _kafka(
    ctx: Context, index: int, endpoint: Endpoint, shape: Shape | None, fan_out: Mapping[str, str]
) -> list[Entry | Comment]:
    path = endpoint_path(index)
    base = ctx.spec.provider.base_url
    if not base:
        ctx.report(
            codes.BASE_URL_REQUIRED,
            ("provider",),
            "a `kafka` provider compiled for SeaTunnel needs `base_url`: the bootstrap servers",
            "add e.g. `base_url: broker1:9092,broker2:9092`",
        )
    servers = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", base or "").rstrip("/")
    entries: list[Entry | Comment] = [
        ("topic", ctx.text(endpoint.path.lstrip("/"), fan_out, (*path, "path"))),
        ("bootstrap.servers", servers),
        ("consumer.group", f"headwater-{ctx.spec.name}"),
        ("format", "json"),
    ]
    if shape is None:
        needs_shape(ctx, path, endpoint, "Kafka's json format")
    else:
        entries.append(("schema", schema(shape)))
    return entries


def _jdbc(
    ctx: Context, index: int, endpoint: Endpoint, shape: Shape | None, fan_out: Mapping[str, str]
) -> list[Entry | Comment]:
    path = endpoint_path(index)
    provider = ctx.spec.provider
    url = provider.base_url or ""
    driver = next((d for prefix, d in JDBC_DRIVERS.items() if url.startswith(prefix)), None)
    if driver is None:
        ctx.unsupported(
            ("provider", "base_url") if url else ("provider",),
            f"`{url}` is not a JDBC URL Headwater knows the driver of",
            "use a jdbc:postgresql:// or jdbc:mysql:// base_url",
        )
    columns = list(shape.fields) if shape is not None else ["*"]
    for column in columns:
        if column != "*" and not is_sql_identifier(column):
            ctx.unsupported(
                (*path, "field_mapping"),
                f"`{column}` would need quoting in the query, and quoting differs by database",
                "map from columns named with letters, digits and underscores",
            )
    table = ctx.text(endpoint.path.lstrip("/"), fan_out, (*path, "path"))
    entries: list[Entry | Comment] = [("url", url), ("driver", driver or "")]
    if provider.credentials_ref is not None:
        entries.append(
            ("user", ctx.variable("credentials_username", ("provider", "credentials_ref")))
        )
        entries.append(
            ("password", ctx.variable("credentials_password", ("provider", "credentials_ref")))
        )
    entries.append(("query", f"SELECT {', '.join(columns)} FROM {table}"))
    return entries
