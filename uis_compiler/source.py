"""Text → plain Python data plus the line and column of every node.

The parser is PyYAML's libyaml-backed composer (fast, and bounded: libyaml refuses nesting past
1000 levels), followed by our own walk over the node graph. The walk is where safety lives: it
counts every node an alias would expand to, refuses alias cycles and unsupported tags, and records
positions, so no input text produces anything but structured issues.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from uis_compiler import codes
from uis_compiler.codes import Code
from uis_compiler.types import Issue, Path, Position, format_path

try:  # The C loader is part of every PyYAML wheel; the pure-Python one is a slow fallback.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - only on a PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (f"{_TAG}{t}" for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE, _VALUE = f"{_TAG}timestamp", f"{_TAG}merge", f"{_TAG}value"
_SEQ, _MAP = f"{_TAG}seq", f"{_TAG}map"
# One constructor instance converts resolved scalars (ints with underscores, .inf, yes/no…)
# exactly as yaml.safe_load would, so documents keep the meaning the original tooling gave them.
_CONSTRUCTOR = SafeConstructor()


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds that keep hostile input cheap: bytes, expanded nodes, and nesting depth."""

    max_bytes: int = 1_048_576
    max_nodes: int = 100_000
    max_depth: int = 64


DEFAULT_LIMITS = ParseLimits()


@dataclass(slots=True)
class SourceDocument:
    """Parsed data with positions; ``data`` is None when parsing failed."""

    data: dict[str, Any] | None
    issues: list[Issue] = field(default_factory=list)
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path) -> Position:
        """Where the value at ``path`` starts; the nearest recorded ancestor when not recorded."""
        return _nearest(self.values, path)

    def key_position(self, path: Path) -> Position:
        """Where the key of ``path`` starts (for unknown-key issues), else its value."""
        found = self.keys.get(path)
        return found if found is not None else self.position(path)

    def issue(
        self,
        code: Code,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
    ) -> Issue:
        """Build an issue positioned at ``path``'s value (or its key)."""
        pos = self.key_position(path) if at_key else self.position(path)
        return Issue(code.id, code.severity, message, format_path(path), pos.line, pos.column, hint)


def _nearest(table: dict[Path, Position], path: Path) -> Position:
    for end in range(len(path), -1, -1):
        found = table.get(path[:end])
        if found is not None:
            return found
    return Position(1, 1)


class _Refused(Exception):
    """Stops the walk with one structured issue."""

    def __init__(self, code: Code, message: str, pos: Position, hint: str | None = None) -> None:
        super().__init__(message)
        self.issue = Issue(code.id, code.severity, message, "", pos.line, pos.column, hint)


def _pos(node: Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


class _Walker:
    """Turns a composed node graph into dicts, lists and scalars, recording positions."""

    def __init__(self, doc: SourceDocument, limits: ParseLimits) -> None:
        self.doc = doc
        self.limits = limits
        self.expanded = 0
        # Node id → (value, expanded size): an alias reuses the value and adds its size.
        self.done: dict[int, tuple[Any, int]] = {}
        self.active: set[int] = set()

    def walk(self, node: Node, path: Path, depth: int) -> tuple[Any, int]:
        key = id(node)
        seen = self.done.get(key)
        if seen is not None:
            self._count(seen[1], node)
            return seen
        if key in self.active:
            raise _Refused(
                codes.ALIAS_EXPANSION,
                "an alias refers to the node that contains it, which would never end",
                _pos(node),
                "replace the alias with a copy of the values it should hold",
            )
        if depth > self.limits.max_depth:
            raise _Refused(
                codes.TOO_DEEP,
                f"the document nests more than {self.limits.max_depth} levels deep",
                _pos(node),
                "a UIS document needs about ten levels; flatten the deepest structure",
            )
        self.doc.values[path] = _pos(node)
        self.active.add(key)
        if isinstance(node, ScalarNode):
            result = (self._scalar(node), 1)
            self._count(1, node)
        elif isinstance(node, SequenceNode):
            result = self._sequence(node, path, depth)
        else:
            assert isinstance(node, MappingNode)
            result = self._mapping(node, path, depth)
        self.active.discard(key)
        self.done[key] = result
        return result

    def _count(self, size: int, node: Node) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_nodes:
            raise _Refused(
                codes.ALIAS_EXPANSION,
                f"the document expands to more than {self.limits.max_nodes} values",
                _pos(node),
                "aliases that repeat other aliases multiply; write the values out or use fewer",
            )

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP, _VALUE):
            # Dates stay text: every UIS field that holds one is a string.
            return node.value
        if tag == _NULL:
            return None
        if tag == _INT:
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == _FLOAT:
            return _CONSTRUCTOR.construct_yaml_float(node)
        if tag == _BOOL:
            return _CONSTRUCTOR.construct_yaml_bool(node)
        raise _unsupported_tag(node)

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> tuple[Any, int]:
        if node.tag != _SEQ:
            raise _unsupported_tag(node)
        items: list[Any] = []
        size = 1
        for index, child in enumerate(node.value):
            value, child_size = self.walk(child, (*path, index), depth + 1)
            items.append(value)
            size += child_size
        self._count(1, node)
        return items, size

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> tuple[Any, int]:
        if node.tag != _MAP:
            raise _unsupported_tag(node)
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        size = 1
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Refused(
                    codes.COMPLEX_KEY,
                    "a mapping key must be a plain value, not a list or a mapping",
                    _pos(key_node),
                    "write the key as text, e.g. `name:`",
                )
            if key_node.tag == _MERGE:
                size += self._merge(value_node, path, depth, merged)
                continue
            name = key_node.value
            child_path = (*path, name)
            if name in out:
                pos = _pos(key_node)
                self.doc.issues.append(
                    Issue(
                        codes.DUPLICATE_KEY.id,
                        codes.DUPLICATE_KEY.severity,
                        f"`{name}` appears more than once in this mapping; the last value is used",
                        format_path(child_path),
                        pos.line,
                        pos.column,
                        "remove the earlier entry",
                    )
                )
            self.doc.keys[child_path] = _pos(key_node)
            value, child_size = self.walk(value_node, child_path, depth + 1)
            out[name] = value
            size += child_size
        for name, value in merged.items():
            out.setdefault(name, value)
        self._count(1, node)
        return out, size

    def _merge(self, node: Node, path: Path, depth: int, into: dict[str, Any]) -> int:
        """YAML 1.1 merge keys (``<<: *defaults``), as yaml.safe_load applies them."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        size = 0
        for source in sources:
            value, source_size = self.walk(source, (*path, "<<"), depth + 1)
            if not isinstance(value, dict):
                raise _Refused(
                    codes.WRONG_TYPE,
                    "a merge key (<<) must refer to a mapping or a list of mappings",
                    _pos(source),
                    "point `<<:` at an anchored mapping, e.g. `<<: *defaults`",
                )
            for name, item in value.items():
                into.setdefault(name, item)
            size += source_size
        return size


def _unsupported_tag(node: Node) -> _Refused:
    return _Refused(
        codes.UNSUPPORTED_TAG,
        f"the YAML tag `{node.tag}` is not accepted in a UIS document",
        _pos(node),
        "remove the tag; UIS values are plain strings, numbers, booleans, lists and mappings",
    )


def _decode(raw: bytes) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            return raw.decode(encoding)
    return raw.decode("utf-8")


def _offset_position(text: str, offset: int) -> Position:
    before = text[:offset]
    line = before.count("\n") + 1
    return Position(line, offset - (before.rfind("\n") + 1) + 1)


def _refusal(code: Code, message: str, pos: Position, hint: str | None) -> SourceDocument:
    return SourceDocument(
        None, [Issue(code.id, code.severity, message, "", pos.line, pos.column, hint)]
    )


def _text_of(source: str | bytes, limits: ParseLimits) -> str | SourceDocument:
    """The input as text, or a refusal when it is too large or not UTF-8."""
    size = len(source)
    if size > limits.max_bytes:
        return _refusal(
            codes.TOO_LARGE,
            f"the input is {size} bytes; the limit is {limits.max_bytes}",
            Position(1, 1),
            "a UIS document is a few kilobytes; move large lists (e.g. tickers) to a run parameter",
        )
    if isinstance(source, bytes):
        try:
            return _decode(source)
        except UnicodeDecodeError as exc:
            prefix = source[: exc.start].decode("utf-8", "replace")
            pos = _offset_position(prefix, len(prefix))
            return _refusal(
                codes.NOT_TEXT,
                f"the input is not UTF-8 text (byte 0x{source[exc.start]:02x} at offset {exc.start})",
                pos,
                "save the file as UTF-8",
            )
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        return _refusal(
            codes.NOT_TEXT,
            "the input holds characters that cannot be UTF-8 encoded (unpaired surrogates)",
            _offset_position(source, exc.start),
            "save the file as UTF-8",
        )
    return source


def _syntax_issue(exc: yaml.YAMLError, text: str) -> Issue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        pos = Position(mark.line + 1, mark.column + 1)
    elif isinstance(exc, yaml.reader.ReaderError):  # a bad character: only an offset is known
        pos = _offset_position(text, exc.position)
    else:
        pos = Position(1, 1)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if problem and "expected a single document" in str(context or problem):
        return Issue(
            codes.MULTIPLE_DOCUMENTS.id,
            codes.MULTIPLE_DOCUMENTS.severity,
            "the input holds more than one YAML document (a second `---`)",
            "",
            pos.line,
            pos.column,
            "keep one provider per document; remove the `---` separator",
        )
    message = f"{context}: {problem}" if context else str(problem)
    index = getattr(mark, "index", -1)
    at_tab = 0 <= index < len(text) and text[index] == "\t"
    hint = "indent with spaces, not tabs" if at_tab else _syntax_hint(str(problem))
    return Issue(
        codes.YAML_SYNTAX.id, codes.YAML_SYNTAX.severity, message, "", pos.line, pos.column, hint
    )


def _syntax_hint(problem: str) -> str | None:
    if "mapping values are not allowed" in problem:
        return "quote values that contain `: `, or fix the indentation above"
    if "could not find expected ':'" in problem:
        return "every key needs a `:` after it; check the line above for a missing colon or quote"
    if "characters are not allowed" in problem:
        return "the input holds control characters; is it a binary file?"
    if "maximum nesting depth" in problem:
        return "flatten the nesting; UIS documents need about ten levels"
    return None


def _untab_json(text: str) -> str:
    """JSON indented with tabs (which YAML refuses) with each tab as one space.

    Valid JSON has tabs only between tokens (a tab inside a string is escaped), so this keeps
    every value and every column; text that is not valid JSON is left alone.
    """
    if "\t" not in text or not text.lstrip().startswith(("{", "[")):
        return text
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return text
    return text.replace("\t", " ")


def parse(source: str | bytes, limits: ParseLimits = DEFAULT_LIMITS) -> SourceDocument:
    """Parse YAML or JSON text; never raises for any input, problems come back as issues."""
    text = _text_of(source, limits)
    if isinstance(text, SourceDocument):
        return text
    text = _untab_json(text)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return SourceDocument(None, [_syntax_issue(exc, text)])
    except (ValueError, RecursionError, MemoryError) as exc:  # libyaml's own refusals
        return _refusal(
            codes.YAML_SYNTAX, f"the input cannot be parsed: {exc}", Position(1, 1), None
        )
    if root is None:
        return _refusal(
            codes.EMPTY_DOCUMENT,
            "the document is empty",
            Position(1, 1),
            "start from an example: `headwater uis schema` lists the fields",
        )
    doc = SourceDocument(None)
    try:
        data, _ = _Walker(doc, limits).walk(root, (), 0)
    except _Refused as refused:
        return SourceDocument(None, [*doc.issues, refused.issue])
    except (ValueError, TypeError) as exc:  # a scalar PyYAML resolved but cannot build
        return _refusal(codes.INVALID_VALUE, f"a value cannot be read: {exc}", Position(1, 1), None)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        doc.issues.append(
            doc.issue(
                codes.ROOT_NOT_MAPPING,
                (),
                f"the document is {kind}; a UIS document is a mapping with `version`, `name`, `provider`",
                'start the document with `version: "1.2"` and `name: …`',
            )
        )
        return doc
    doc.data = data
    return doc


def iter_paths(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) pair below ``value``, depth first, the value itself included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from iter_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from iter_paths(child, (*path, index))
