"""OpenAPI 3.x → UIS 1.2: one endpoint per readable operation, one Iceberg sink."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml

from uis_compiler.grants import SECRET_ENV_PREFIX
from uis_compiler.openapi.auth import Auth, endpoint_auth
from uis_compiler.openapi.document import OpenAPIDocument, load, one_line
from uis_compiler.openapi.naming import UniqueNames, snake_case, variable_name
from uis_compiler.openapi.operations import Operation, select
from uis_compiler.openapi.paging import Paging, infer
from uis_compiler.openapi.records import Column, columns, contract, locate
from uis_compiler.openapi.refs import Resolver
from uis_compiler.openapi.servers import plan_base_url

_PATH_PARAMETER = re.compile(r"\{([^{}]+)\}")


def import_openapi(
    source: str | bytes,
    *,
    name: str | None = None,
    tenant_id: str = "default",
    owner: str = "data-platform",
    created_by: str = "openapi-import",
    include: Sequence[str] | None = None,
) -> str:
    """UIS 1.2 YAML for an OpenAPI 3.0/3.1 document; raises OpenAPIImportError saying where.

    ``include`` selects operations by operationId, ``METHOD /path`` or path (GET); without it
    every GET with a 2xx JSON response is imported, and a POST only when listed.
    """
    if isinstance(include, str):
        include = [include]
    document = load(source)
    resolver = Resolver(document)
    base_url, operations = plan_base_url(document, select(document, resolver, include))
    spec_name = snake_case(name if name is not None else document.title, "openapi_api")
    names = UniqueNames()
    endpoints: list[dict[str, Any]] = []
    first_columns: list[Column] | None = None
    authenticated = False
    for op, prefix in operations:
        auth = endpoint_auth(document, resolver, op, base_url)
        authenticated = authenticated or auth.kind != "none"
        endpoint, mapped = _endpoint(resolver, op, prefix, auth, names.take(_endpoint_name(op)))
        endpoints.append(endpoint)
        if first_columns is None:
            first_columns = mapped
    provider: dict[str, Any] = {
        "name": spec_name,
        "display_name": document.title,
        "provider_type": "rest_api",
        "base_url": base_url,
    }
    if authenticated:
        # Only a reference: the secret's value is read inside the running job.
        provider["credentials_ref"] = f"env:{SECRET_ENV_PREFIX}{spec_name.upper()}_CREDENTIALS"
    provider |= {"tenant_id": tenant_id, "owner": owner, "endpoints": endpoints}
    provider["sinks"] = [_sink(spec_name, endpoints[0]["name"], first_columns or [])]
    schema_contract = contract(first_columns or [])
    if schema_contract is not None:
        provider["schema_contract"] = schema_contract
    spec: dict[str, Any] = {"version": "1.2", "name": spec_name}
    description = _description(document)
    if description:
        spec["description"] = description
    spec |= {"created_by": created_by, "provider": provider}
    # A wide line keeps long paths (one `{{ … }}` after another) on one line, easy to read.
    body = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=4096)
    return _header(document) + body


def _endpoint_name(op: Operation) -> str:
    """operationId in snake_case, else one made of the method and the path."""
    if op.operation_id:
        return snake_case(op.operation_id, "endpoint")
    return snake_case(f"{op.method} {op.route}", "endpoint")


def _endpoint(
    resolver: Resolver, op: Operation, prefix: str, auth: Auth, name: str
) -> tuple[dict[str, Any], list[Column]]:
    """One UIS endpoint, and the columns of its records."""
    single = op.route.rstrip("/").endswith("}")
    records = locate(resolver, op.response, single_resource=single)
    paging = infer(resolver, op.query(), op.response, records)
    mapped = columns(resolver, records.item) if records.item is not None else []
    endpoint: dict[str, Any] = {
        "name": name,
        "path": _PATH_PARAMETER.sub(
            lambda m: f"{{{{ {variable_name(m.group(1))} }}}}", prefix + op.route
        ),
        "method": op.method,
        "auth": auth.kind,
    }
    if auth.config:
        endpoint["auth_config"] = dict(auth.config)
    query = _query_params(op, paging, auth)
    if query:
        endpoint["query_params"] = query
    if op.body is not None:
        endpoint["body_template"] = _body_template(op.body)
    endpoint["pagination"] = paging.mode
    if paging.mode != "none":
        endpoint["pagination_config"] = dict(paging.config)
    endpoint["response_path"] = records.path
    if mapped:
        endpoint["field_mapping"] = {column.name: column.source for column in mapped}
    return endpoint, mapped


def _query_params(op: Operation, paging: Paging, auth: Auth) -> dict[str, Any]:
    """Required query parameters as run-parameter templates, plus pagination's fixed ones."""
    query: dict[str, Any] = {}
    for parameter in op.query():
        if not parameter.required or parameter.name in paging.parameters:
            continue
        if parameter.name == auth.parameter:
            continue
        query[parameter.name] = f"{{{{ {variable_name(parameter.name)} }}}}"
    query.update(paging.fixed)
    return query


def _body_template(example: Any) -> str:
    """A POST body from the description's example."""
    text = json.dumps(example, ensure_ascii=False)
    # Braces in an example would read as a template; an empty body is the safe default.
    return "{}" if "{{" in text or "}}" in text else text


def _sink(spec_name: str, endpoint_name: str, mapped: list[Column]) -> dict[str, Any]:
    """The Iceberg sink of the first endpoint's records."""
    key = next((column.name for column in mapped if column.source == "id"), None)
    # Records with an id are entities: re-reading them updates rows instead of duplicating.
    config: dict[str, Any] = (
        {"write_mode": "merge", "primary_key": [key]} if key else {"write_mode": "append"}
    )
    return {"type": "iceberg", "table_name": f"{spec_name}.{endpoint_name}", "config": config}


def _description(document: OpenAPIDocument) -> str:
    """The spec's description: the first line of the API's summary or description."""
    for key in ("summary", "description"):
        text = document.get(("info", key))
        if isinstance(text, str):
            first = next((line for line in text.splitlines() if line.strip()), "")
            if first:
                return one_line(first)
    return ""


def _header(document: OpenAPIDocument) -> str:
    """The comment that says what the spec was generated from."""
    version = f" version {document.api_version}" if document.api_version else ""
    return (
        f'# Generated by the Headwater OpenAPI importer from "{document.title}"{version}'
        f" (OpenAPI {document.openapi}).\n"
        "# Review auth, pagination and field_mapping before use.\n"
    )
