"""validateSpec and compileSpec: the editor's checks, with no side effects.

The work runs in the spec worker processes (api.specworkers); the cost limit bounds the spec
text one request may send (api.schema.cost).
"""

from __future__ import annotations

from enum import Enum

import strawberry

from api.schema.context import Context, Info
from api.schema.errors import SpecIssue
from api.schema.permissions import CanRead


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
    async def validate_spec(self, info: Info, text: str, strict: bool = False) -> SpecValidation:
        context = info.context
        checked = await context.spec_workers.check(
            _bounded(text, context), strict, context.config.grants
        )
        return SpecValidation(
            valid=checked.valid,
            version=checked.version,
            engine=checked.engine,
            issues=[SpecIssue.of(issue) for issue in checked.issues],
        )

    @strawberry.field(permission_classes=[CanRead], description="Compile a spec without saving it.")
    async def compile_spec(self, info: Info, text: str, engine: EngineEnum) -> SpecCompilation:
        context = info.context
        checked = await context.spec_workers.build(
            _bounded(text, context), engine.value, context.config.grants, context.compile_options
        )
        return SpecCompilation(
            ok=checked.output is not None,
            engine=engine.value,
            output=checked.output,
            issues=[SpecIssue.of(issue) for issue in checked.issues],
        )


def _bounded(text: str, context: Context) -> str:
    """The text up to one byte past the limit: the parser reports it as too large."""
    return text[: context.config.max_spec_bytes + 1]
