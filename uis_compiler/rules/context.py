"""What every rule needs: the document (for positions), the model, and the chosen engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from uis_compiler import codes
from uis_compiler.codes import Code
from uis_compiler.grants import DEFAULT_GRANTS, Grants
from uis_compiler.models import Endpoint, Spec
from uis_compiler.source import SourceDocument
from uis_compiler.types import Engine, Issue, Path

PROVIDER: Path = ("provider",)


@dataclass
class Context:
    """Shared state of one semantic check."""

    doc: SourceDocument
    spec: Spec
    engine: Engine
    strict: bool = False
    #: What the platform grants each tenant's secret references.
    grants: Grants = DEFAULT_GRANTS
    issues: list[Issue] = field(default_factory=list)

    @property
    def unknown_key(self) -> Code:
        """Unknown keys warn, or fail in strict mode."""
        return codes.UNKNOWN_KEY_STRICT if self.strict else codes.UNKNOWN_KEY

    def report(
        self, code: Code, path: Path, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> None:
        self.issues.append(self.doc.issue(code, path, message, hint, at_key=at_key))

    def endpoints(self) -> Iterator[tuple[Path, Endpoint]]:
        """Every endpoint with its path in the document."""
        for index, endpoint in enumerate(self.spec.provider.endpoints):
            yield (*PROVIDER, "endpoints", index), endpoint

    @cached_property
    def fan_out(self) -> dict[str, object]:
        return dict(self.spec.provider.settings.fan_out or {})

    @cached_property
    def views(self) -> list[str]:
        """Names of every view a sink or transform may read, in definition order."""
        names = [e.name for e in self.spec.provider.endpoints if e.is_active]
        names.extend(t.name for t in self.spec.provider.transforms)
        return names
