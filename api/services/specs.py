"""Spec text → validation result and stored compiled form, with the platform's compile options."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from uis_compiler import Issue, Spec, ValidationResult, validate
from uis_compiler.compiler import compile_result
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.exceptions import CompileError
from uis_compiler.grants import DEFAULT_GRANTS, Grants


class SpecInvalidError(Exception):
    """The spec has errors; ``issues`` carry their positions, codes and hints."""

    def __init__(self, issues: tuple[Issue, ...]) -> None:
        super().__init__(f"the spec has {sum(i.is_error for i in issues)} error(s)")
        self.issues = issues


@dataclass(frozen=True, slots=True)
class CheckedSpec:
    """A valid spec with what is stored beside its text."""

    spec: Spec
    engine: str
    parsed: dict[str, Any]
    compiled: dict[str, Any]
    warnings: tuple[Issue, ...]


def check(
    text: str, options: CompileOptions | None = None, grants: Grants = DEFAULT_GRANTS
) -> CheckedSpec:
    """Validate and compile ``text`` for its own engine; raises SpecInvalidError."""
    result = validate(text, grants=grants)
    if not result.valid or result.spec is None or result.engine is None:
        raise SpecInvalidError(result.issues)
    try:
        compiled = _compiled(result, options or CompileOptions())
    except CompileError as exc:
        raise SpecInvalidError(exc.issues) from exc
    parsed = json.loads(result.spec.model_dump_json(by_alias=True, exclude_none=True))
    return CheckedSpec(result.spec, result.engine, parsed, compiled, result.issues)


def _compiled(result: ValidationResult, options: CompileOptions) -> dict[str, Any]:
    assert result.spec is not None and result.engine is not None
    if result.engine == "spark":
        compilation = compile_spark(result.spec, options)
        return {
            "engine": "spark",
            "plan": compilation.plan.model_dump(mode="json", exclude_none=True),
            "spark_submit": list(compilation.submit_args),
        }
    return {"engine": result.engine, "text": compile_result(result, result.engine, options)}


def run_parameters(compiled: dict[str, Any]) -> list[str]:
    """The run parameters a stored plan needs (Spark plans list them)."""
    plan = compiled.get("plan") or {}
    return [str(name) for name in plan.get("parameters", [])]
