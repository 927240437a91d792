"""The UIS compiler: parse, validate, lint and compile Unified Ingestion Specs.

A pure library: no I/O beyond the text it is given. Everything else in Headwater builds on it.
"""

from __future__ import annotations

from uis_compiler.exceptions import CompileError, OpenAPIImportError, UISError
from uis_compiler.models import Spec, SpecV12
from uis_compiler.types import ENGINES, Engine, Issue, Severity
from uis_compiler.validator import ValidationResult, validate

__all__ = [
    "ENGINES",
    "CompileError",
    "Engine",
    "Issue",
    "OpenAPIImportError",
    "Severity",
    "Spec",
    "SpecV12",
    "UISError",
    "ValidationResult",
    "validate",
]
