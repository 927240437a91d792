"""The JSONPath subset UIS uses to find records, next-page URLs and cursors in responses.

Paths are `$`, then steps `.name`, `['name']`, `[0]`, `[*]` or `.*`. This small subset covers
every response envelope we have met and keeps extraction a tight loop in the ingest job (a full
JSONPath engine parses each expression with a generated lexer, which is slow on this hot path).
Dotted field paths in ``field_mapping`` (``a.b.c``) use the same steps without the `$`.
"""

from __future__ import annotations

import re
from typing import Any

#: One step: a key, an index, or ``None`` for "every element".
Step = str | int | None

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_@$][A-Za-z0-9_@$-]*)
      | \.\*(?P<dot_star>)
      | \[\s*(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<index>-?\d+)|(?P<star>\*))\s*\]""",
    re.VERBOSE,
)


class JsonPathError(ValueError):
    """A path outside the supported subset; the message names the offending part."""


def parse(path: str) -> tuple[Step, ...]:
    """Parse ``$.a.b[*]`` into steps; raises JsonPathError."""
    text = path.strip()
    if not text.startswith("$"):
        raise JsonPathError(f"`{path}` must start with `$` (the whole response)")
    steps: list[Step] = []
    at = 1
    while at < len(text):
        match = _STEP.match(text, at)
        if match is None:
            raise JsonPathError(
                f"`{path}`: cannot read `{text[at:]}`; use `.name`, `['name']`, `[0]` or `[*]`"
            )
        groups = match.groupdict()
        if groups["name"] is not None:
            steps.append(groups["name"])
        elif groups["single"] is not None or groups["double"] is not None:
            steps.append(groups["single"] if groups["single"] is not None else groups["double"])
        elif groups["index"] is not None:
            steps.append(int(groups["index"]))
        else:
            steps.append(None)
        at = match.end()
    return tuple(steps)


def parse_field(path: str) -> tuple[str, ...]:
    """Parse a dotted field path (``day.close``) into keys; raises JsonPathError."""
    parts = tuple(path.split("."))
    if not path or any(not part.strip() for part in parts):
        raise JsonPathError(f"`{path}` is not a dotted field path such as `price` or `day.close`")
    return parts


def extract(document: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value ``steps`` select in ``document`` (lists at the end are flattened once)."""
    current = [document]
    for step in steps:
        following: list[Any] = []
        for value in current:
            if step is None:
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, dict):
                    following.extend(value.values())
            elif isinstance(step, int):
                if isinstance(value, list) and -len(value) <= step < len(value):
                    following.append(value[step])
            elif isinstance(value, dict) and step in value:
                following.append(value[step])
        current = following
    if len(current) == 1 and isinstance(current[0], list):
        return list(current[0])
    return current


def first(document: Any, steps: tuple[Step, ...]) -> Any:
    """The first value selected, or None."""
    found = extract(document, steps)
    return found[0] if found else None
