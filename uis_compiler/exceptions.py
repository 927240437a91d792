"""Errors the UIS compiler raises; expected problems with a document are issues, not these."""

from __future__ import annotations

from uis_compiler.types import Issue


class UISError(Exception):
    """Base of every uis_compiler exception."""


class CompileError(UISError):
    """The document cannot be compiled for the engine; ``issues`` say where and why."""

    def __init__(self, engine: str, issues: tuple[Issue, ...]) -> None:
        self.engine = engine
        self.issues = issues
        first = issues[0] if issues else None
        where = f" (line {first.line}, column {first.column}: {first.message})" if first else ""
        super().__init__(f"cannot compile for {engine}: {len(issues)} error(s){where}")


class OpenAPIImportError(UISError):
    """An OpenAPI document that cannot be turned into a UIS spec; the message says where."""
