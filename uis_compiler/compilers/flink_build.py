"""The state of one Flink compilation, shared by the script, source and sink builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from uis_compiler.codes import Code
from uis_compiler.columns import ColumnType
from uis_compiler.compilers.flink_sql import Column
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.models import Spec
from uis_compiler.types import Issue, Path
from uis_compiler.validator import ValidationResult

RuntimeMode = Literal["streaming", "batch"]


@dataclass
class Build:
    """State of one compilation, shared with the source and sink builders."""

    result: ValidationResult
    spec: Spec
    options: CompileOptions
    mode: RuntimeMode = "streaming"
    contract: dict[str, ColumnType] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    #: View name → its columns; None for transform views, whose columns Flink infers.
    views: dict[str, list[Column] | None] = field(default_factory=dict)
    #: Secret name → reference, listed in the header.
    secrets: dict[str, str] = field(default_factory=dict)
    #: Iceberg catalog name → warehouse.
    catalogs: dict[str, str] = field(default_factory=dict)

    def report(self, code: Code, path: Path, message: str, hint: str | None = None) -> None:
        self.issues.append(self.result.document.issue(code, path, message, hint))
