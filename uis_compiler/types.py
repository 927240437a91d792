"""Shared value types of the UIS compiler: issues, positions, severities, engines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

#: One step of a path into a document: a mapping key or a sequence index.
PathPart = str | int
#: A path into a document, e.g. ``("provider", "endpoints", 1, "path")``.
Path = tuple[PathPart, ...]

Engine = Literal["spark", "flink", "seatunnel"]
ENGINES: tuple[Engine, ...] = ("spark", "flink", "seatunnel")

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Severity(StrEnum):
    """How bad an issue is: errors make a document invalid, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


def format_path(path: Path) -> str:
    """Render a path the way users write it: ``provider.endpoints[1].headers["X-Key"]``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a document, with where it is and how to fix it."""

    code: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.line, self.column, self.code, self.path)

    def to_dict(self) -> dict[str, str | int | None]:
        """The JSON form used by the CLI and the API."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }
