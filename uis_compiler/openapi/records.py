"""Where the records are in a response (``response_path``) and how they map to columns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uis_compiler.openapi.naming import UniqueNames, snake_case
from uis_compiler.openapi.refs import Resolver
from uis_compiler.openapi.schemas import Located, Schema

#: Names of the records array in common envelopes, most telling first.
PREFERRED = ("results", "data", "items", "records", "entries", "values")
#: Nested objects are flattened this many levels (`address.geo.lat` → `address_geo_lat`).
FLATTEN_LEVELS = 2
_JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")
_DATE_FORMATS = frozenset({"date", "date-time"})
_NAME_STEP = re.compile(r"^[A-Za-z_@$][A-Za-z0-9_@$-]*$")


@dataclass(frozen=True, slots=True)
class Records:
    """The JSONPath of the records and one record's schema (None when records are not objects)."""

    path: str
    item: Schema | None


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its source field path, JSON Schema type, and whether it is required."""

    name: str
    source: str
    contract: dict[str, Any]
    required: bool


def json_path_step(name: str) -> str | None:
    """``.name`` or ``['name']``; None for a name no JSONPath step of UIS can hold."""
    if _NAME_STEP.match(name):
        return f".{name}"
    return f"['{name}']" if "'" not in name and name else None


def locate(resolver: Resolver, response: Schema, single_resource: bool) -> Records:
    """Find the records: a top-level array, an envelope's array property, or the object itself.

    ``single_resource`` (the path ends in a parameter, as in ``/orders/{id}``): an object with its
    own ``id`` is one record, even when it holds a list such as its line items.
    """
    if response.is_array:
        return Records("$", _object_items(resolver, response))
    if not response.is_object:
        return Records("$", None)
    if single_resource and "id" in response.property_names():
        return Records("$", response)
    found = _records_array(resolver, response, allow_single=not single_resource)
    if found is not None:
        return Records(f"${found[0]}", found[1])
    if not single_resource:
        # One level deeper: `{"data": {"items": [...], "cursor": …}}`.
        for _, step, located in _preferred_first(response.properties):
            envelope = resolver.schema(*located)
            if envelope.is_object and not envelope.is_array:
                inner = _records_array(resolver, envelope, allow_single=True)
                if inner is not None:
                    return Records(f"${step}{inner[0]}", inner[1])
    return Records("$", response)


def _preferred_first(
    properties: tuple[tuple[str, Located], ...],
) -> list[tuple[str, str, Located]]:
    """Properties as (name, JSONPath step, node), the preferred record names first."""
    ranked = sorted(enumerate(properties), key=lambda pair: (_rank(pair[1][0]), pair[0]))
    out: list[tuple[str, str, Located]] = []
    for _, (name, located) in ranked:
        step = json_path_step(name)
        if step is not None:
            out.append((name, step, located))
    return out


def _rank(name: str) -> int:
    """Position among the preferred record names; past the end for any other name."""
    lowered = name.lower()
    return PREFERRED.index(lowered) if lowered in PREFERRED else len(PREFERRED)


def _records_array(
    resolver: Resolver, envelope: Schema, *, allow_single: bool
) -> tuple[str, Schema] | None:
    """The envelope's array-of-objects property: a preferred name, else the only one."""
    candidates: list[tuple[str, str, Schema]] = []
    for name, step, located in _preferred_first(envelope.properties):
        child = resolver.schema(*located)
        item = _object_items(resolver, child) if child.is_array else None
        if item is not None:
            candidates.append((name, step, item))
    if candidates and _rank(candidates[0][0]) < len(PREFERRED):
        return candidates[0][1], candidates[0][2]
    if allow_single and len(candidates) == 1:
        return candidates[0][1], candidates[0][2]
    return None


def _object_items(resolver: Resolver, array: Schema) -> Schema | None:
    """The array's item schema when the items are objects."""
    if array.items is None:
        return None
    item = resolver.schema(*array.items)
    return item if item.is_object else None


def columns(resolver: Resolver, item: Schema) -> list[Column]:
    """The record's columns: properties in order, nested objects flattened to dotted sources."""
    out: list[Column] = []
    _walk(resolver, item, ((), ()), 0, (True, False), UniqueNames(), out)
    return out


def _walk(
    resolver: Resolver,
    schema: Schema,
    prefix: tuple[tuple[str, ...], tuple[str, ...]],
    depth: int,
    parent: tuple[bool, bool],
    names: UniqueNames,
    out: list[Column],
) -> None:
    """Add ``schema``'s properties; ``prefix`` is (source keys, column parts) of the parent,
    ``parent`` whether it is required and whether it may be null."""
    sources, parts = prefix
    parent_required, parent_nullable = parent
    for name, located in schema.properties:
        # A dot would read as nesting and braces as a template: such keys cannot be mapped.
        if not name.strip() or "." in name or "{" in name or "}" in name:
            continue
        child = resolver.schema(*located)
        if child.write_only:
            continue
        nullable = child.nullable or parent_nullable
        required = parent_required and name in schema.required and not nullable
        source = (*sources, name)
        column = (*parts, snake_case(name, "field"))
        # Only a plain object is flattened: in `anyOf: [string, object]` (an id or the expanded
        # record) the dotted columns would be empty whenever the id form comes back.
        if child.types in ((), ("object",)) and child.properties and depth < FLATTEN_LEVELS:
            _walk(resolver, child, (source, column), depth + 1, (required, nullable), names, out)
            continue
        contract = _contract_type(child, nullable)
        out.append(Column(names.take("_".join(column)), ".".join(source), contract, required))


def _contract_type(schema: Schema, nullable: bool) -> dict[str, Any]:
    """A column's JSON Schema: its type(s), and the format for dates and timestamps."""
    types = [t for t in schema.types if t in _JSON_TYPES]
    entry: dict[str, Any] = {}
    if types:
        listed = [*types, "null"] if nullable else types
        entry["type"] = listed[0] if len(listed) == 1 else listed
    if "string" in types and schema.format in _DATE_FORMATS:
        entry["format"] = schema.format
    return entry


def contract(found: list[Column]) -> dict[str, Any] | None:
    """The provider's ``schema_contract`` for these columns (None when there are none)."""
    if not found:
        return None
    out: dict[str, Any] = {
        "type": "object",
        "properties": {column.name: column.contract for column in found},
    }
    required = [column.name for column in found if column.required]
    if required:
        out["required"] = required
    return out
