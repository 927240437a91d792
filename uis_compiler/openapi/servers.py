"""The provider's base URL, from the document's (or the operations') ``servers``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from uis_compiler.openapi.document import OpenAPIDocument
from uis_compiler.openapi.operations import Operation
from uis_compiler.types import Path

_VARIABLE = re.compile(r"\{([^{}]*)\}")


def plan_base_url(
    document: OpenAPIDocument, operations: list[Operation]
) -> tuple[str, list[tuple[Operation, str]]]:
    """The base URL, and each operation kept with the path prefix its own server adds.

    An operation whose own server is on another host cannot share the provider's base URL and
    is left out; one below the base URL (``…/v1`` vs ``…/v1/admin``) keeps the difference.
    """
    root = document.get(("servers",))
    if isinstance(root, list) and root:
        base = server_url(document, root, ("servers",))
    else:
        first = next((op.servers for op in operations if op.servers is not None), None)
        if first is None:
            raise document.fail(
                (),
                "the document has no `servers`, so the API's base URL is unknown",
                "add `servers: [{url: https://api.example.com/v1}]` at the top level",
            )
        base = server_url(document, *first)
    kept: list[tuple[Operation, str]] = []
    for op in operations:
        own = server_url(document, *op.servers) if op.servers is not None else base
        if own == base:
            kept.append((op, ""))
        elif own.startswith(base + "/"):
            kept.append((op, own[len(base) :]))
    if not kept:
        raise document.fail(
            ("servers",),
            f"every importable operation names its own server, none below `{base}`",
            "import the operations of one server at a time, with that server as `servers[0]`",
        )
    return base, kept


def server_url(document: OpenAPIDocument, servers: Any, path: Path) -> str:
    """The first server's URL with its variables at their defaults; absolute http(s) only."""
    first = servers[0] if isinstance(servers, list) and servers else None
    url = first.get("url") if isinstance(first, dict) else None
    url_path: Path = (*path, 0, "url")
    if not isinstance(url, str) or not url.strip():
        raise document.fail(
            (*path, 0),
            "the first server has no `url`",
            "write e.g. `- url: https://api.example.com`",
        )
    variables = first.get("variables") if isinstance(first, dict) else None
    defined = variables if isinstance(variables, dict) else {}

    def substitute(match: re.Match[str]) -> str:
        """The default value of one server variable."""
        name = match.group(1)
        variable = defined.get(name)
        if not isinstance(variable, dict) or variable.get("default") is None:
            raise document.fail(
                url_path,
                f"server variable `{{{name}}}` in `{url}` has no default value",
                f"add `variables: {{{name}: {{default: …}}}}` to the server",
            )
        return str(variable["default"])

    resolved = _VARIABLE.sub(substitute, url.strip())
    try:
        parts = urlsplit(resolved)
    except ValueError as exc:  # e.g. a bracketed host that is not an IP address
        raise document.fail(url_path, f"the server URL `{resolved}` is not a URL: {exc}") from None
    if not parts.scheme or not parts.netloc:
        raise document.fail(
            url_path,
            f"the server URL `{resolved}` is relative (to wherever the description is served), "
            "so the API's base URL cannot be derived",
            f"make it absolute, e.g. `url: https://api.example.com{resolved if resolved.startswith('/') else '/' + resolved}`",
        )
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise document.fail(
            url_path,
            f"the server URL `{resolved}` is not an http(s) URL with a host; a REST provider is "
            "read over HTTP",
            "use the API's https:// URL",
        )
    return resolved.rstrip("/")
