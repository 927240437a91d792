"""Local ``$ref`` resolution and schema composition (allOf, oneOf, anyOf, nullable, type lists).

Schemas are resolved one level at a time: :meth:`Resolver.schema` merges a schema's references
and compositions but leaves its properties and items as unresolved nodes. Recursive data
(a category whose ``children`` are categories) is therefore legal and costs nothing until a
caller descends into it, and callers bound how deep they go. A cycle that never reaches a
schema (``A → B → A`` through ``$ref`` or ``allOf`` alone) has no meaning and is an error; a
cycle through ``oneOf``/``anyOf`` (a parent listing subtypes that include the parent) only
drops the repeated alternative.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from uis_compiler.openapi.document import OpenAPIDocument, pointer
from uis_compiler.openapi.schemas import Located, Merged, Schema, as_list, combine, own_keywords
from uis_compiler.suggest import did_you_mean
from uis_compiler.types import Path

#: Longest chain of $ref/allOf/oneOf/anyOf steps followed before giving up.
MAX_DEPTH = 64
#: Schema nodes one resolution may visit: a bound on documents built to explode combinatorially.
MAX_VISITS = 20_000

_BUNDLE_HINT = (
    "bundle the description into one document first (e.g. `npx @redocly/cli bundle openapi.yaml`)"
)
_COMPOSING = frozenset({"$ref", "allOf", "oneOf", "anyOf"})


class Resolver:
    """Follows local references of one document and merges composed schemas."""

    def __init__(self, document: OpenAPIDocument) -> None:
        self.document = document
        self._visits = 0
        # Resolved components by path. A result that dropped a repeated oneOf/anyOf alternative
        # depends on the way in, so it is not kept (``_cut`` notes that it happened).
        self._cache: dict[Path, Schema] = {}
        # Merged property definitions by identity; the node is kept so its id stays unique.
        self._merged: dict[int, tuple[Merged, Schema]] = {}
        self._cut = False
        self._root: Path = ()

    def deref(self, node: Any, path: Path) -> Located:
        """Follow a chain of ``$ref`` (of a parameter, response, …) to the object it names."""
        seen: list[Path] = []
        while isinstance(node, dict) and "$ref" in node:
            ref_path = (*path, "$ref")
            node, path = self._target(node["$ref"], ref_path)
            if path in seen or len(seen) >= MAX_DEPTH:
                raise self._circular(ref_path, [*seen, path])
            seen.append(path)
        return node, path

    def schema(self, node: Any, path: Path) -> Schema:
        """The schema at ``path`` with refs, allOf, oneOf/anyOf and nullability merged."""
        self._visits, self._cut, self._root = 0, False, path
        return self._schema(node, path, ()) or Schema(path)

    def _schema(self, node: Any, path: Path, active: tuple[Path | None, ...]) -> Schema | None:
        """``active`` lists the refs entered on the way here; None marks a oneOf/anyOf step."""
        self._visits += 1
        if self._visits > MAX_VISITS or len(active) > MAX_DEPTH:
            raise self.document.fail(
                self._root,
                "this schema composes ($ref, allOf, oneOf, anyOf) too deeply or too many times "
                "to resolve",
                f"keep composition chains under {MAX_DEPTH} steps",
            )
        if isinstance(node, Merged):
            return self._merge(node, path, active)
        if not isinstance(node, dict):
            # `true`/`{}` (3.1 boolean schemas) and malformed nodes both mean "anything".
            return Schema(path)
        if not _COMPOSING.intersection(node):
            return own_keywords(node, path)
        merged: list[Schema] = []
        if "$ref" in node:
            ref_path = (*path, "$ref")
            target, target_path = self._target(node["$ref"], ref_path)
            if target_path in active:
                entered = len(active) - 1 - active[::-1].index(target_path)
                if None in active[entered + 1 :]:
                    self._cut = True
                    return None
                chain = [p for p in active[entered:] if p is not None]
                raise self._circular(ref_path, [*chain, target_path])
            found = self._referenced(target, target_path, active)
            if found is not None:
                merged.append(found)
        for index, member in enumerate(as_list(node.get("allOf"))):
            found = self._schema(member, (*path, "allOf", index), active)
            if found is not None:
                merged.append(found)
        alternatives: list[Schema] = []
        for key in ("oneOf", "anyOf"):
            for index, member in enumerate(as_list(node.get(key))):
                found = self._schema(member, (*path, key, index), (*active, None))
                if found is not None:
                    alternatives.append(found)
        return combine(own_keywords(node, path), merged, alternatives)

    def _merge(self, node: Merged, path: Path, active: tuple[Path | None, ...]) -> Schema:
        """All definitions of one property merged, once per import where the way in cannot matter."""
        cached = self._merged.get(id(node))
        if cached is not None and cached[0] is node:
            return cached[1]
        outer_cut, self._cut = self._cut, False
        parts = [self._schema(member, where, active) for member, where in node.members]
        found = combine(Schema(path), [p for p in parts if p is not None], [])
        if not self._cut:
            self._merged[id(node)] = (node, found)
        self._cut = self._cut or outer_cut
        return found

    def _referenced(
        self, target: Any, target_path: Path, active: tuple[Path | None, ...]
    ) -> Schema | None:
        """The schema a ``$ref`` names, resolved once per import where the way in cannot matter."""
        cached = self._cache.get(target_path)
        if cached is not None:
            return cached
        outer_cut, self._cut = self._cut, False
        found = self._schema(target, target_path, (*active, target_path))
        if found is not None and not self._cut:
            self._cache[target_path] = found
        self._cut = self._cut or outer_cut
        return found

    def _target(self, ref: Any, ref_path: Path) -> Located:
        """The node a local ``$ref`` names; errors for external, malformed or dangling refs."""
        fail = self.document.fail
        if not isinstance(ref, str):
            raise fail(ref_path, "`$ref` must be text such as `#/components/schemas/Pet`")
        if not ref.startswith("#"):
            raise fail(
                ref_path,
                f"`$ref: {ref}` refers to another document; only local references "
                "(`#/components/…`) are resolved",
                _BUNDLE_HINT,
            )
        fragment = ref[1:]
        if fragment and not fragment.startswith("/"):
            raise fail(
                ref_path,
                f"`$ref: {ref}` names an anchor, not a JSON pointer",
                "write the pointer, e.g. `#/components/schemas/Pet`",
            )
        node: Any = self.document.data
        path: Path = ()
        for raw in fragment.split("/")[1:] if fragment else []:
            segment = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and segment in node:
                node, path = node[segment], (*path, segment)
            elif isinstance(node, list) and _is_index(segment) and int(segment) < len(node):
                node, path = node[int(segment)], (*path, int(segment))
            else:
                near = did_you_mean(segment, node) if isinstance(node, dict) else None
                raise fail(
                    ref_path,
                    f"`$ref: {ref}` points to nothing: {pointer(path)} has no `{segment}`",
                    near or f"define it under {pointer(path)}",
                )
        return node, path

    def _circular(self, ref_path: Path, chain: list[Path]) -> Exception:
        """The error for a reference loop, naming every step of it."""
        loop = " → ".join(pointer(p) for p in chain)
        return self.document.fail(
            ref_path,
            f"circular $ref: {loop} never reaches a schema",
            "a schema may refer to itself only inside `properties` or `items` (a tree's children)",
        )


def _is_index(segment: str) -> bool:
    """True for a JSON pointer segment that indexes a list."""
    return segment.isascii() and segment.isdigit()
