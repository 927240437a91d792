"""Which operations become endpoints: GETs with a 2xx JSON response, and what they take.

Parameters of the path item and of the operation are merged (the operation's win, keyed by
name and location), every ``$ref`` on the way resolved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from uis_compiler.openapi.document import OpenAPIDocument
from uis_compiler.openapi.refs import Resolver
from uis_compiler.openapi.schemas import Located, Schema
from uis_compiler.types import Path

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Methods an imported endpoint may use; the others change data rather than read it.
_IMPORTABLE = frozenset({"get", "post"})
_JSON = re.compile(r"^application/(?:json|[^\s;]+\+json)\s*(?:;.*)?$", re.IGNORECASE)
_SUCCESS = re.compile(r"^2(?:\d\d|XX)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A resolved parameter of an operation."""

    name: str
    location: str
    required: bool
    schema: Schema


@dataclass(frozen=True, slots=True)
class Operation:
    """One importable operation, everything the endpoint needs already resolved."""

    method: str
    route: str
    operation_id: str | None
    parameters: tuple[Parameter, ...]
    response: Schema
    security: Located
    servers: Located | None
    body: Any

    def query(self) -> list[Parameter]:
        """The query parameters, in order."""
        return [p for p in self.parameters if p.location == "query"]


def select(
    document: OpenAPIDocument, resolver: Resolver, include: Sequence[str] | None
) -> list[Operation]:
    """The operations to import, in document order; ``include`` narrows and extends them."""
    paths = document.get(("paths",))
    found: list[Operation] = []
    seen: list[str] = []
    wanted = {_normalised(entry): False for entry in include or ()}
    for route, raw_item in paths.items() if isinstance(paths, dict) else ():
        # `{{` would read as a UIS template; OpenAPI path templates use single braces.
        if not route.startswith("/") or "{{" in route or "}}" in route:
            continue
        item, item_path = resolver.deref(raw_item, ("paths", route))
        if not isinstance(item, dict):
            continue
        for method in (m for m in item if m in _METHODS):
            op = item[method]
            if not isinstance(op, dict):
                continue
            op_path = (*item_path, method)
            key = f"{method.upper()} {route}"
            seen.append(key)
            names = _selectors(method, route, op.get("operationId"))
            hits = [entry for entry in wanted if entry in names]
            for entry in hits:
                wanted[entry] = True
            if include is not None and not hits:
                continue
            if method not in _IMPORTABLE:
                if hits:
                    raise document.fail(
                        op_path,
                        f"`{key}` is listed in include, but only GET and POST operations are "
                        "imported (the others change data)",
                    )
                continue
            if method != "get" and not hits:
                continue
            response = _json_response(resolver, op, op_path)
            if response is None:
                if hits:
                    raise document.fail(
                        (*op_path, "responses"),
                        f"`{key}` is listed in include, but it has no 2xx application/json "
                        "response",
                    )
                continue
            found.append(
                _operation(document, resolver, (route, item, item_path), (op, op_path), response)
            )
    missing = [entry for entry, hit in wanted.items() if not hit]
    if missing:
        raise document.fail(
            ("paths",),
            f"include lists `{missing[0]}`, which matches no operation",
            "name an operationId, `METHOD /path` or a path; operations: "
            + ", ".join(seen[:12])
            + (", …" if len(seen) > 12 else ""),
        )
    if not found:
        raise document.fail(
            ("paths",) if isinstance(paths, dict) else (),
            "no GET operation returns JSON (a 2xx `application/json` response), so there is "
            "nothing to import",
            f"operations found: {', '.join(seen[:12]) or 'none'}; a POST that reads data can "
            "be imported with include=['POST /path']",
        )
    return found


def _normalised(entry: str) -> str:
    """An include entry with its method, if any, in upper case (`get /pets` → `GET /pets`)."""
    method, _, route = entry.strip().partition(" ")
    return f"{method.upper()} {route.strip()}" if route.strip().startswith("/") else entry.strip()


def _selectors(method: str, route: str, operation_id: Any) -> set[str]:
    """The include entries that pick an operation."""
    names = {f"{method.upper()} {route}"}
    if method == "get":
        names.add(route)
    if isinstance(operation_id, str):
        names.add(operation_id)
    return names


def _json_response(resolver: Resolver, op: dict[str, Any], op_path: Path) -> Schema | None:
    """The schema of the first 2xx JSON response (an empty schema when none is given)."""
    responses = op.get("responses")
    if not isinstance(responses, dict):
        return None
    codes = sorted((str(c) for c in responses if _SUCCESS.match(str(c))), key=lambda c: c.upper())
    for code in codes:
        response, response_path = resolver.deref(responses[code], (*op_path, "responses", code))
        content = response.get("content") if isinstance(response, dict) else None
        if not isinstance(content, dict):
            continue
        media = _json_media(content)
        if media is None:
            continue
        media_type, body = media
        media_path = (*response_path, "content", media_type)
        if not isinstance(body, dict) or "schema" not in body:
            return Schema(media_path)
        return resolver.schema(body["schema"], (*media_path, "schema"))
    return None


def _json_media(content: dict[str, Any]) -> tuple[str, Any] | None:
    """The JSON media type of a content map: plain application/json first, then `+json`."""
    json_types = [str(t) for t in content if _JSON.match(str(t))]
    plain = [t for t in json_types if t.split(";")[0].strip().lower() == "application/json"]
    ranked = plain or json_types
    return (ranked[0], content[ranked[0]]) if ranked else None


def _operation(
    document: OpenAPIDocument,
    resolver: Resolver,
    path_item: tuple[str, dict[str, Any], Path],
    operation: tuple[dict[str, Any], Path],
    response: Schema,
) -> Operation:
    """The Operation of one path item method, parameters and security resolved."""
    route, item, item_path = path_item
    op, op_path = operation
    method = str(op_path[-1])
    params: dict[tuple[str, str], Parameter] = {}
    for owner, owner_path in ((item, item_path), (op, op_path)):
        raw = owner.get("parameters")
        for index, node in enumerate(raw if isinstance(raw, list) else []):
            parameter = _parameter(resolver, node, (*owner_path, "parameters", index))
            if parameter is not None:
                params[(parameter.name, parameter.location)] = parameter
    if "security" in op:
        security: Located = (op["security"], (*op_path, "security"))
    else:
        security = (document.get(("security",)), ("security",))
    servers: Located | None = None
    for owner, owner_path in ((op, op_path), (item, item_path)):
        if isinstance(owner.get("servers"), list) and owner["servers"]:
            servers = (owner["servers"], (*owner_path, "servers"))
            break
    operation_id = op.get("operationId")
    return Operation(
        method=method.upper(),
        route=route,
        operation_id=operation_id if isinstance(operation_id, str) else None,
        parameters=tuple(params.values()),
        response=response,
        security=security,
        servers=servers,
        body=_body_example(resolver, op, op_path) if method != "get" else None,
    )


def _parameter(resolver: Resolver, node: Any, path: Path) -> Parameter | None:
    """A parameter with its schema resolved; None for a malformed one."""
    param, param_path = resolver.deref(node, path)
    if not isinstance(param, dict) or not isinstance(param.get("name"), str):
        return None
    location = str(param.get("in", ""))
    if "schema" in param:
        schema = resolver.schema(param["schema"], (*param_path, "schema"))
    elif isinstance(param.get("content"), dict) and param["content"]:
        media_type, media = next(iter(param["content"].items()))
        raw = media.get("schema") if isinstance(media, dict) else None
        schema = resolver.schema(raw, (*param_path, "content", media_type, "schema"))
    else:
        schema = Schema((*param_path,))
    required = param.get("required") is True or location == "path"
    return Parameter(param["name"], location, required, schema)


def _body_example(resolver: Resolver, op: dict[str, Any], op_path: Path) -> Any:
    """An example JSON request body, when the description gives one."""
    if "requestBody" not in op:
        return None
    body, body_path = resolver.deref(op["requestBody"], (*op_path, "requestBody"))
    content = body.get("content") if isinstance(body, dict) else None
    media = _json_media(content) if isinstance(content, dict) else None
    if media is None or not isinstance(media[1], dict):
        return None
    media_type, node = media
    if "example" in node:
        return node["example"]
    examples = node.get("examples")
    if isinstance(examples, dict) and examples:
        name, first = next(iter(examples.items()))
        example, _ = resolver.deref(first, (*body_path, "content", media_type, "examples", name))
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    schema = node.get("schema")
    if isinstance(schema, dict):
        resolved, _ = resolver.deref(schema, (*body_path, "content", media_type, "schema"))
        if isinstance(resolved, dict) and "example" in resolved:
            return resolved["example"]
    return {}
