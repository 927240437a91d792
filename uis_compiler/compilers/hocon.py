"""A small deterministic HOCON writer: nested objects, quoted strings, never a substitution."""

# Keys are paths by default (`job.mode` is `job { mode }`, the way SeaTunnel reads its options); a
# Name key is data (a header, a column, a catalog property) and is always one quoted key. Every
# string value is double-quoted, so `${var}` inside it is text to HOCON: SeaTunnel fills such
# placeholders itself from `-i` variables. Entries keep their order, so one tree is one text.

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

INDENT = "  "
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Name(str):
    """A key that is data, written as one quoted key even when it holds dots."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment line among an object's entries."""

    text: str


@dataclass(frozen=True, slots=True)
class Block:
    """An object whose entries keep their order and may repeat a key (SeaTunnel plugin lists)."""

    entries: tuple[Entry | Comment, ...]


Scalar: TypeAlias = "str | int | float | bool | None"
Value: TypeAlias = "Scalar | Block | Mapping[str, Value] | Sequence[Value]"
Entry: TypeAlias = "tuple[str, Value]"


def render(root: Block | Mapping[str, Value], header: tuple[str, ...] = ()) -> str:
    """The HOCON text of ``root``, after one ``#`` line per header entry."""
    lines = [f"# {_comment(text)}" for text in header]
    lines += _entries(_items(root), 0)
    return "\n".join(lines) + "\n"


def quote(text: str) -> str:
    """A double-quoted HOCON (JSON) string; non-ASCII text stays as UTF-8."""
    out: list[str] = []
    for char in text:
        escaped = _SHORT_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF:
            out.append(f"\\u{ord(char):04x}")
        elif char in "\u2028\u2029":
            # JSON allows them raw, but some parsers treat them as line ends.
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def key_text(key: str) -> str:
    """A key as written: a quoted :class:`Name`, or a dotted path of plain or quoted segments."""
    if isinstance(key, Name):
        return quote(key)
    segments = key.split(".")
    if any(not segment for segment in segments):
        raise ValueError(f"the option path {key!r} has an empty segment")
    return ".".join(s if _PLAIN_SEGMENT.match(s) else quote(s) for s in segments)


def _comment(text: str) -> str:
    # A line break would end the comment and turn the rest into configuration.
    return " ".join(text.split()) if any(c in text for c in "\r\n\u2028\u2029") else text


def _items(value: Block | Mapping[str, Value]) -> tuple[Entry | Comment, ...]:
    if isinstance(value, Block):
        return value.entries
    return tuple(value.items())


def _entries(items: tuple[Entry | Comment, ...], depth: int) -> list[str]:
    pad = INDENT * depth
    lines: list[str] = []
    for item in items:
        if isinstance(item, Comment):
            lines.append(f"{pad}# {_comment(item.text)}")
            continue
        key, value = item
        if isinstance(value, Block | Mapping):
            inner = _entries(_items(value), depth + 1)
            head = f"{pad}{key_text(key)}"
            lines += [f"{head} {{", *inner, f"{pad}}}"] if inner else [f"{head} {{}}"]
            continue
        rendered = _value(value, depth)
        rendered[0] = f"{pad}{key_text(key)} = {rendered[0]}"
        lines += rendered
    return lines


def _value(value: Value, depth: int) -> list[str]:
    """The lines of a value: the first unindented, the rest indented for ``depth``."""
    if isinstance(value, Block | Mapping):
        inner = _entries(_items(value), depth + 1)
        return ["{", *inner, INDENT * depth + "}"] if inner else ["{}"]
    if isinstance(value, list | tuple):
        if not any(isinstance(item, Block | Mapping | list | tuple) for item in value):
            return ["[" + ", ".join(_scalar(item) for item in value) + "]"]
        lines = ["["]
        for position, item in enumerate(value):
            element = _value(item, depth + 1)
            element[0] = INDENT * (depth + 1) + element[0]
            if position < len(value) - 1:
                element[-1] += ","
            lines += element
        return [*lines, INDENT * depth + "]"]
    return [_scalar(value)]


def _scalar(value: Value) -> str:
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no HOCON form")
        return repr(value)
    raise TypeError(f"cannot write a {type(value).__name__} as HOCON")
