"""The schema layer: the right model for the document's version, and pydantic's errors as issues."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from uis_compiler import codes
from uis_compiler.models import MODELS, Spec
from uis_compiler.source import SourceDocument
from uis_compiler.suggest import did_you_mean
from uis_compiler.types import Issue, Path, format_path

_TYPE_ERRORS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
_RANGE_ERRORS = {
    "greater_than": ">",
    "greater_than_equal": "≥",
    "less_than": "<",
    "less_than_equal": "≤",
}


def detect_version(doc: SourceDocument, data: dict[str, Any]) -> tuple[str, list[Issue]]:
    """The UIS version to validate against, normalising an unquoted `1.1`."""
    raw = data.get("version", "1.1")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        text = str(raw)
        issue = doc.issue(
            codes.NUMERIC_VERSION,
            ("version",),
            f'`version: {text}` is a number; it is read as the string "{text}"',
            f'quote it: `version: "{text}"`',
        )
        if text in MODELS:
            return text, [issue]
        raw = text
    if raw in MODELS:
        return str(raw), []
    issue = doc.issue(
        codes.UNSUPPORTED_VERSION,
        ("version",),
        f"UIS version `{raw}` is not supported; this tool reads 1.1 and 1.2",
        'set `version: "1.2"` (or "1.1")',
    )
    # The rest of the document is still checked, as the most recent version.
    return "1.2", [issue]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"`{value}`"


def _to_issue(doc: SourceDocument, error: ErrorDetails) -> Issue:
    path: Path = tuple(error["loc"])
    where = format_path(path)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        field = path[-1]
        return doc.issue(
            codes.MISSING_FIELD,
            path[:-1],
            f"`{field}` is required" + (f" in `{format_path(path[:-1])}`" if path[:-1] else ""),
            f"add `{field}:`",
        )
    if kind in _TYPE_ERRORS:
        return doc.issue(
            codes.WRONG_TYPE,
            path,
            f"`{where}` must be {_TYPE_ERRORS[kind]}, not {_describe(value)}",
        )
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        choices = [part.strip(" '\"") for part in expected.replace(" or ", ", ").split(",")]
        return doc.issue(
            codes.INVALID_CHOICE,
            path,
            f"`{where}` must be one of {', '.join(choices)}; got {_describe(value)}",
            did_you_mean(str(value), choices) if isinstance(value, str) else None,
        )
    if kind in _RANGE_ERRORS:
        bound = next(iter(ctx.values()), "")
        return doc.issue(
            codes.OUT_OF_RANGE,
            path,
            f"`{where}` must be {_RANGE_ERRORS[kind]} {bound}; got {_describe(value)}",
        )
    return doc.issue(codes.INVALID_VALUE, path, f"`{where}`: {error['msg']}")


def validate_schema(
    doc: SourceDocument, data: dict[str, Any], version: str
) -> tuple[Spec | None, list[Issue]]:
    """Build the model of ``version``; on failure, one issue per pydantic error."""
    try:
        return MODELS[version].model_validate({**data, "version": version}), []
    except ValidationError as exc:
        return None, [_to_issue(doc, error) for error in exc.errors(include_url=False)]
