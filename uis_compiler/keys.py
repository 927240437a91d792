"""Unknown keys: reported with the closest known key, or the place where the key belongs.

The original UIS 1.1 tooling dropped unknown keys silently, so a typo such as `respone_path`
quietly lost a setting. They are warnings here (documents stay valid) and errors in strict mode.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from uis_compiler import codes
from uis_compiler.models import SpecV12
from uis_compiler.source import SourceDocument
from uis_compiler.suggest import did_you_mean
from uis_compiler.types import Issue, Path, format_path

#: Fields that exist only from a UIS version on: key → the first version that has it.
VERSION_ONLY: dict[str, str] = {"schemaRef": "1.2", "compatMode": "1.2"}


def _names(model: type[BaseModel]) -> dict[str, Any]:
    """Key as written in documents → the field's annotation."""
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def _unwrap(annotation: Any) -> Any:
    """Drop ``| None`` so the shape underneath shows."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a value must match (and whether it is a list of them), or None."""
    shape = _unwrap(annotation)
    if get_origin(shape) is list:
        inner = _unwrap(get_args(shape)[0])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, True
        return None, False
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        return shape, False
    return None, False


@cache
def _homes() -> dict[str, str]:
    """Every known key → the first path (in document order) where it lives."""
    homes: dict[str, str] = {}

    def visit(model: type[BaseModel], prefix: str) -> None:
        for key, annotation in _names(model).items():
            homes.setdefault(key, f"{prefix}{key}")
            child, is_list = _model_of(annotation)
            if child is not None:
                visit(child, f"{prefix}{key}{'[]' if is_list else ''}.")

    visit(SpecV12, "")
    return homes


def _hint(key: str, here: dict[str, Any]) -> str | None:
    nearby = did_you_mean(key, here)
    if nearby is not None:
        return nearby
    home = _homes().get(key)
    if home is not None:
        return f"`{key}` belongs at `{home}`"
    return None


def unknown_keys(
    doc: SourceDocument, data: dict[str, Any], model: type[BaseModel], *, strict: bool
) -> list[Issue]:
    """Report keys of ``data`` (and below) that ``model`` does not define."""
    code = codes.UNKNOWN_KEY_STRICT if strict else codes.UNKNOWN_KEY
    issues: list[Issue] = []

    def visit(value: Any, model: type[BaseModel], path: Path) -> None:
        if not isinstance(value, dict):
            return
        known = _names(model)
        is_open = model.model_config.get("extra") == "allow"
        for key, child in value.items():
            child_path = (*path, key)
            annotation = known.get(key)
            if annotation is None:
                if not is_open:
                    issues.append(_unknown(doc, code, key, known, path, child_path))
                continue
            child_model, is_list = _model_of(annotation)
            if child_model is None:
                continue
            if is_list and isinstance(child, list):
                for index, item in enumerate(child):
                    visit(item, child_model, (*child_path, index))
            elif not is_list:
                visit(child, child_model, child_path)

    visit(data, model, ())
    return issues


def _unknown(
    doc: SourceDocument,
    code: codes.Code,
    key: str,
    known: dict[str, Any],
    path: Path,
    child_path: Path,
) -> Issue:
    since = VERSION_ONLY.get(key)
    if since is not None and not path and key in _names(SpecV12):
        return doc.issue(
            codes.VERSION_ONLY_FIELD if code is codes.UNKNOWN_KEY else code,
            child_path,
            f"`{key}` exists from UIS {since} on; this document is UIS 1.1, so it is ignored",
            f'set `version: "{since}"` at the top to use it',
            at_key=True,
        )
    where = f"`{format_path(path)}`" if path else "the top level"
    return doc.issue(
        code,
        child_path,
        f"`{key}` is not a UIS field at {where}; it is ignored",
        _hint(key, known),
        at_key=True,
    )
