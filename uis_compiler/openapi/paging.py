"""Pagination inferred from an operation's query parameters and its response schema.

Precedence: a cursor parameter with a token in the response (or Stripe's ``starting_after``
with record ids) → cursor by token; offset + limit → offset; page + page size → page; a next-page
URL in the response → cursor by URL. Explicit offset and page parameters win over a next-page
URL because the importer can then choose the page size (a followed URL keeps the server's).
Parameter and field names are compared in snake_case, so ``pageToken`` is ``page_token``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uis_compiler.openapi.naming import snake_case
from uis_compiler.openapi.operations import Parameter
from uis_compiler.openapi.records import Records, json_path_step
from uis_compiler.openapi.refs import Resolver
from uis_compiler.openapi.schemas import Schema

CURSOR_PARAMS = (
    "cursor", "page_token", "next_token", "next_page_token", "continuation_token", "continuation",
    "starting_after", "after", "page_cursor", "start_cursor", "next_cursor", "marker",
)  # fmt: skip
OFFSET_PARAMS = ("offset", "skip")
LIMIT_PARAMS = ("limit", "page_size", "per_page", "size", "max_results", "take")
PAGE_PARAMS = ("page", "page_number", "page_num", "page_no", "page_index")
PAGE_SIZE_PARAMS = (
    "per_page", "page_size", "limit", "size", "page_limit", "items_per_page", "max_results",
)  # fmt: skip
#: Response fields holding the next page's token, most telling first.
TOKEN_FIELDS = (
    "next_cursor", "next_page_token", "next_token", "next_page_cursor", "continuation_token",
    "next_marker", "end_cursor", "cursor", "next", "after",
)  # fmt: skip
#: Response fields holding the next page's full URL whatever their format says.
URL_FIELDS = ("next_url", "next_page_url", "next_link", "next_href")
DEFAULT_PAGE_SIZE = 100
#: How deep in the response envelope to look for next-page fields (`paging.cursors.after`).
SEARCH_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Paging:
    """An endpoint's pagination, the query parameters it sends, and fixed ones it adds."""

    mode: str
    config: dict[str, Any] = field(default_factory=dict)
    parameters: frozenset[str] = frozenset()
    fixed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Field:
    """A field of the response envelope: its JSONPath steps, snake_case name and schema."""

    steps: tuple[str, ...]
    name: str
    parent: str
    schema: Schema

    @property
    def json_path(self) -> str:
        """Where the field is, as a JSONPath from the response root."""
        return "$" + "".join(self.steps)

    @property
    def scalar(self) -> bool:
        """True for a string, an integer, or an untyped leaf."""
        return set(self.schema.types) <= {"string", "integer"} and not self.schema.properties

    @property
    def is_url(self) -> bool:
        """True when the field holds the next page's full URL."""
        if not self.scalar or "integer" in self.schema.types:
            return False
        if self.name in URL_FIELDS:
            return True
        if self.name in ("next", "next_page"):
            return self.schema.is_url or self.parent in ("links", "_links", "link")
        # HAL: `_links: {next: {href: …}}`.
        return self.name == "href" and self.parent == "next"


def infer(
    resolver: Resolver, parameters: list[Parameter], response: Schema, records: Records
) -> Paging:
    """The pagination of one operation (``none`` when nothing fits)."""
    params: dict[str, Parameter] = {}
    for parameter in parameters:
        params.setdefault(snake_case(parameter.name, ""), parameter)
    fields = _fields(resolver, response)
    cursor = _pick(params, CURSOR_PARAMS)
    limit = _pick(params, LIMIT_PARAMS)
    fixed = {limit.name: page_size(limit)} if limit is not None else {}
    if cursor is not None:
        sent = frozenset({cursor.name, *fixed})
        token = _token(fields)
        if token is not None:
            config = {"cursor_path": token, "cursor_param": cursor.name}
            return Paging("cursor", config, sent, fixed)
        item = records.item
        if (
            snake_case(cursor.name, "") == "starting_after"
            and item
            and "id" in item.property_names()
        ):
            # Stripe's convention: the next page starts after the last record's id.
            config = {"cursor_path": f"{records.path}[-1].id", "cursor_param": cursor.name}
            return Paging("cursor", config, sent, fixed)
    offset = _pick(params, OFFSET_PARAMS)
    if offset is not None and limit is not None:
        config = {"offset_param": offset.name, "limit_param": limit.name}
        config_size: dict[str, Any] = {"page_size": page_size(limit)}
        return Paging("offset", config | config_size, frozenset({offset.name, limit.name}))
    page = _pick(params, PAGE_PARAMS)
    size = _pick(params, PAGE_SIZE_PARAMS)
    if page is not None and size is not None:
        minimum = page.schema.minimum
        start = minimum if _is_int(minimum) and minimum >= 0 else 1
        config = {"page_param": page.name, "page_size_param": size.name}
        config_page: dict[str, Any] = {"start_page": start, "page_size": page_size(size)}
        return Paging("page", config | config_page, frozenset({page.name, size.name}))
    url = next((f for f in fields if f.is_url), None)
    if url is not None:
        sent = frozenset({*fixed, *((cursor.name,) if cursor is not None else ())})
        return Paging("cursor", {"next_url_path": url.json_path}, sent, fixed)
    return Paging("none")


def page_size(parameter: Parameter) -> int:
    """The limit parameter's default, else its maximum, else 100."""
    for value in (parameter.schema.default, parameter.schema.maximum):
        text = isinstance(value, str) and value.isascii() and value.isdigit()
        number = int(value) if text else value
        if _is_int(number) and number >= 1:
            return int(number)
    return DEFAULT_PAGE_SIZE


def _is_int(value: Any) -> bool:
    """True for an integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def _pick(params: dict[str, Parameter], names: tuple[str, ...]) -> Parameter | None:
    """The parameter with the first of ``names`` (snake_case) that the operation has."""
    return next((params[name] for name in names if name in params), None)


def _token(fields: list[_Field]) -> str | None:
    """The JSONPath of the shallowest, most telling next-page token field."""
    tokens = [f for f in fields if f.name in TOKEN_FIELDS and f.scalar and not f.is_url]
    if not tokens:
        return None
    best = min(tokens, key=lambda f: (len(f.steps), TOKEN_FIELDS.index(f.name)))
    return best.json_path


def _fields(resolver: Resolver, response: Schema) -> list[_Field]:
    """Fields of the response envelope, shallowest first, without descending into arrays."""
    found: list[_Field] = []
    level: list[tuple[tuple[str, ...], str, Schema]] = [((), "", response)]
    for _ in range(SEARCH_DEPTH):
        following: list[tuple[tuple[str, ...], str, Schema]] = []
        for steps, parent, schema in level:
            if schema.is_array or not schema.is_object:
                continue
            for name, located in schema.properties:
                step = json_path_step(name)
                if step is None:
                    continue
                child = resolver.schema(*located)
                entry = _Field((*steps, step), snake_case(name, ""), parent, child)
                found.append(entry)
                following.append((entry.steps, entry.name, child))
        level = following
    return found
