"""Compile a UIS document for an engine: validate for that engine, then build its artifact."""

from __future__ import annotations

from uis_compiler.compilers.flink import compile_flink
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.seatunnel import compile_seatunnel
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.exceptions import CompileError
from uis_compiler.types import Engine
from uis_compiler.validator import ValidationResult, validate


def compile_result(
    result: ValidationResult, engine: Engine, options: CompileOptions | None = None
) -> str:
    """The artifact text of an already validated document; raises CompileError."""
    if result.engine is not None and result.engine != engine:
        raise ValueError(f"the document was validated for {result.engine}, not {engine}")
    if not result.valid or result.spec is None:
        raise CompileError(engine, result.errors)
    options = options or CompileOptions()
    if engine == "spark":
        return compile_spark(result.spec, options).to_json()
    if engine == "flink":
        return compile_flink(result, options)
    return compile_seatunnel(result, options)


def compile_text(
    source: str | bytes,
    engine: Engine,
    options: CompileOptions | None = None,
    *,
    strict: bool = False,
) -> str:
    """Validate ``source`` for ``engine`` and compile it; raises CompileError with the issues."""
    return compile_result(validate(source, strict=strict, engine=engine), engine, options)
