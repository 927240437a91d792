"""An OpenAPI 3.x document as parsed data with positions, and errors that say where.

Parsing reuses :func:`uis_compiler.source.parse` (never raises, records the line and column of
every node), with limits sized for API descriptions rather than UIS specs: published OpenAPI
documents reach several megabytes and nest schemas far deeper than a UIS document does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from uis_compiler import codes
from uis_compiler.exceptions import OpenAPIImportError
from uis_compiler.source import ParseLimits, SourceDocument, parse
from uis_compiler.types import Issue, Path

LIMITS = ParseLimits(max_bytes=16 * 1024 * 1024, max_nodes=4_000_000, max_depth=128)

#: Parse problems whose hints speak about OpenAPI as well as UIS (the others talk about UIS).
_GENERIC_HINTS = frozenset({codes.YAML_SYNTAX.id, codes.NOT_TEXT.id, codes.MULTIPLE_DOCUMENTS.id})


def pointer(path: Path) -> str:
    """The JSON pointer (as a URI fragment, like a local $ref) of a path into the document."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    # Braces stay readable (`~1pets~1{petId}`), as people write them in local $refs.
    return "#" + "".join("/" + quote(part, safe="~!$&'()*+,;=:@{}") for part in parts)


@dataclass(frozen=True, slots=True)
class OpenAPIDocument:
    """A parsed OpenAPI 3.x document; ``fail`` builds errors positioned in its source text."""

    source: SourceDocument
    data: dict[str, Any]
    openapi: str

    def fail(
        self, path: Path, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> OpenAPIImportError:
        """An import error naming the JSON pointer and the line and column of ``path``."""
        return _error(self.source, path, message, hint, at_key=at_key)

    def get(self, path: Path) -> Any:
        """The value at ``path``, or None when any step is missing."""
        value: Any = self.data
        for part in path:
            if isinstance(value, dict) and isinstance(part, str):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
                value = value[part]
            else:
                return None
        return value

    @property
    def title(self) -> str:
        """The API's title as one line of text."""
        return one_line(self.get(("info", "title"))) or "API"

    @property
    def api_version(self) -> str:
        """The API's own version (``info.version``), as one line of text."""
        return one_line(self.get(("info", "version")))


def one_line(value: Any, limit: int = 200) -> str:
    """Text of a scalar with whitespace collapsed, cut at ``limit`` characters."""
    if value is None or isinstance(value, dict | list):
        return ""
    # Control characters would make the generated YAML (its header comment) unreadable.
    text = "".join(ch for ch in " ".join(str(value).split()) if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _error(
    source: SourceDocument, path: Path, message: str, hint: str | None, *, at_key: bool = False
) -> OpenAPIImportError:
    """The positioned error; ``at_key`` points at a mapping key rather than its value."""
    pos = source.key_position(path) if at_key else source.position(path)
    where = f"line {pos.line}, column {pos.column} ({pointer(path)})"
    return OpenAPIImportError(f"{where}: {message}" + (f"; {hint}" if hint else ""))


def _describe(issue: Issue) -> str:
    """A parse issue in words about OpenAPI (parse() words some of them for UIS)."""
    if issue.code == codes.ROOT_NOT_MAPPING.id:
        message = (
            "the document is not a mapping; an OpenAPI document has `openapi`, `info`, `paths`"
        )
    elif issue.code == codes.EMPTY_DOCUMENT.id:
        message = "the document is empty"
    else:
        message = issue.message
    hint = f" ({issue.hint})" if issue.hint and issue.code in _GENERIC_HINTS else ""
    return f"line {issue.line}, column {issue.column}: {message}{hint}"


def load(source: str | bytes) -> OpenAPIDocument:
    """Parse OpenAPI text (YAML or JSON); raises OpenAPIImportError unless it is OpenAPI 3.x."""
    parsed = parse(source, LIMITS)
    errors = [issue for issue in parsed.issues if issue.is_error]
    if parsed.data is None or errors:
        found = errors or parsed.issues
        listed = "; ".join(_describe(issue) for issue in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise OpenAPIImportError(f"the document cannot be parsed: {listed}{more}")
    data = parsed.data
    if "swagger" in data:
        raise _error(
            parsed,
            ("swagger",),
            f"this is a Swagger {one_line(data['swagger']) or '2.0'} document; the importer reads "
            "OpenAPI 3.0 and 3.1",
            "convert it first (e.g. `npx swagger2openapi swagger.yaml -o openapi.yaml`)",
        )
    if "openapi" not in data:
        raise _error(
            parsed,
            (),
            "this is not an OpenAPI document: it has no `openapi` field",
            'an OpenAPI 3 document starts with `openapi: "3.1.0"` (or 3.0.x), `info` and `paths`',
        )
    version = data["openapi"]
    text = str(version) if isinstance(version, str | int | float) else ""
    if isinstance(version, bool) or not text.startswith("3."):
        raise _error(
            parsed,
            ("openapi",),
            f"`openapi: {one_line(version)}` is not a 3.x version; the importer reads OpenAPI "
            "3.0 and 3.1",
            'write the version as text, e.g. `openapi: "3.1.0"`',
        )
    return OpenAPIDocument(parsed, data, one_line(text, 40))
