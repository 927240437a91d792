"""validateSpec and compileSpec: the editor's checks, with no side effects."""

from __future__ import annotations

from enum import Enum

import strawberry

from api.schema.context import Info
from api.schema.errors import SpecIssue
from api.schema.permissions import CanRead
from uis_compiler import validate
from uis_compiler.compiler import compile_result
from uis_compiler.exceptions import CompileError

#: An editor sends the whole document on each pause; this bounds the work one request may ask.
MAX_SPEC_BYTES = 1_048_576


@strawberry.enum
class EngineEnum(Enum):
    SPARK = "spark"
    FLINK = "flink"
    SEATUNNEL = "seatunnel"


@strawberry.type
class SpecValidation:
    valid: bool
    version: str | None
    engine: str | None
    issues: list[SpecIssue]


@strawberry.type
class SpecCompilation:
    ok: bool
    engine: str
    #: The compiled artifact: Spark plan JSON, Flink SQL or SeaTunnel HOCON.
    output: str | None
    issues: list[SpecIssue]


@strawberry.type
class SpecQueries:
    @strawberry.field(permission_classes=[CanRead], description="Check a spec without saving it.")
    def validate_spec(self, info: Info, text: str, strict: bool = False) -> SpecValidation:
        result = validate(
            text[: MAX_SPEC_BYTES + 1], strict=strict, grants=info.context.config.grants
        )
        return SpecValidation(
            valid=result.valid,
            version=result.spec.version if result.spec else None,
            engine=result.engine,
            issues=[SpecIssue.of(issue) for issue in result.issues],
        )

    @strawberry.field(permission_classes=[CanRead], description="Compile a spec without saving it.")
    def compile_spec(self, info: Info, text: str, engine: EngineEnum) -> SpecCompilation:
        result = validate(
            text[: MAX_SPEC_BYTES + 1],
            engine=engine.value,
            grants=info.context.config.grants,
        )
        try:
            output = compile_result(result, engine.value, info.context.compile_options)
        except CompileError as exc:
            return SpecCompilation(
                ok=False,
                engine=engine.value,
                output=None,
                issues=[SpecIssue.of(issue) for issue in exc.issues],
            )
        return SpecCompilation(
            ok=True,
            engine=engine.value,
            output=output,
            issues=[SpecIssue.of(issue) for issue in result.issues],
        )
