"""Schemas with their composition merged: the model the importer reads records and params from.

A :class:`Schema` keeps its properties and items unresolved (as nodes with their places), so
recursive schemas cost nothing until someone descends into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uis_compiler.types import Path

#: An unresolved node and where it is in the document.
Located = tuple[Any, Path]

_URL_FORMATS = frozenset({"uri", "url", "iri", "uri-reference", "iri-reference"})


@dataclass(frozen=True, slots=True)
class Schema:
    """One schema with its references and compositions merged; children stay unresolved."""

    path: Path
    types: tuple[str, ...] = ()
    nullable: bool = False
    format: str | None = None
    properties: tuple[tuple[str, Located], ...] = ()
    required: tuple[str, ...] = ()
    items: Located | None = None
    default: Any = None
    minimum: Any = None
    maximum: Any = None
    write_only: bool = False

    @property
    def is_array(self) -> bool:
        """True for an array schema (declared, or implied by `items`)."""
        return "array" in self.types or (not self.types and self.items is not None)

    @property
    def is_object(self) -> bool:
        """True for an object schema (declared, or implied by `properties`)."""
        return "object" in self.types or (not self.types and bool(self.properties))

    @property
    def is_url(self) -> bool:
        """True when the format says the string is a URL."""
        return self.format in _URL_FORMATS

    def property_names(self) -> list[str]:
        """The names of the properties, in order."""
        return [name for name, _ in self.properties]


@dataclass(frozen=True, slots=True)
class Merged:
    """Several definitions of one property (from allOf parts), each where it is written."""

    members: tuple[Located, ...]


def as_list(value: Any) -> list[Any]:
    """The value when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def own_keywords(node: dict[str, Any], path: Path) -> Schema:
    """The keywords written on the node itself."""
    raw_type = node.get("type")
    if isinstance(raw_type, str):
        named = [raw_type]
    else:
        named = [t for t in as_list(raw_type) if isinstance(t, str)]
    # 3.0 writes `nullable: true`; 3.1 writes `type: [string, "null"]`.
    nullable = node.get("nullable") is True or "null" in named
    properties = node.get("properties")
    props = (
        tuple((str(k), (v, (*path, "properties", k))) for k, v in properties.items())
        if isinstance(properties, dict)
        else ()
    )
    items = node.get("items")
    return Schema(
        path=path,
        types=tuple(t for t in named if t != "null"),
        nullable=nullable,
        format=node.get("format") if isinstance(node.get("format"), str) else None,
        properties=props,
        required=tuple(str(r) for r in as_list(node.get("required")) if isinstance(r, str)),
        items=(items, (*path, "items")) if isinstance(items, dict | bool) else None,
        default=node.get("default"),
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        write_only=node.get("writeOnly") is True,
    )


def combine(own: Schema, merged: list[Schema], alternatives: list[Schema]) -> Schema:
    """Merge allOf parts (properties and required) and union oneOf/anyOf alternatives."""
    parts = [*merged, own]
    properties: dict[str, Located] = {}
    for part in parts:
        for name, located in part.properties:
            if name not in properties:
                properties[name] = located
                continue
            # Both definitions constrain the property: keep each one (once), like an allOf.
            known = members(properties[name])
            ids = {id(k[0]) for k in known}
            extra = tuple(m for m in members(located) if id(m[0]) not in ids)
            if extra:
                properties[name] = (Merged((*known, *extra)), properties[name][1])
    for alternative in alternatives:
        for name, located in alternative.properties:
            properties.setdefault(name, located)
    types = own.types or next((p.types for p in merged if p.types), ())
    if not types:
        types = tuple(dict.fromkeys(t for a in alternatives for t in a.types))
    # A `{type: "null"}` alternative has no format of its own and does not count.
    formats = {a.format for a in alternatives if a.types}
    union_format = formats.pop() if len(formats) == 1 else None
    return Schema(
        path=own.path,
        types=types,
        # A `{type: "null"}` alternative (3.1's optional reference) is itself nullable.
        nullable=any(p.nullable for p in (*parts, *alternatives)),
        format=own.format or next((p.format for p in merged if p.format), None) or union_format,
        properties=tuple(properties.items()),
        required=tuple(dict.fromkeys(r for p in parts for r in p.required)),
        items=own.items
        or next((p.items for p in merged if p.items), None)
        or next((a.items for a in alternatives if a.items), None),
        default=_first(p.default for p in (own, *merged)),
        minimum=_first(p.minimum for p in (own, *merged)),
        maximum=_first(p.maximum for p in (own, *merged)),
        write_only=any(p.write_only for p in parts),
    )


def members(located: Located) -> tuple[Located, ...]:
    """The definitions a property node stands for."""
    node = located[0]
    return node.members if isinstance(node, Merged) else (located,)


def _first(values: Any) -> Any:
    """The first value that is not None."""
    return next((v for v in values if v is not None), None)
