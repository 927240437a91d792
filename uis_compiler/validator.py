"""Validation in layers: YAML syntax → schema (types, keys) → semantics (meaning)."""

from __future__ import annotations

from dataclasses import dataclass

from uis_compiler import rules
from uis_compiler.engines import choose_engine
from uis_compiler.grants import DEFAULT_GRANTS, Grants
from uis_compiler.keys import unknown_keys
from uis_compiler.models import MODELS, Spec
from uis_compiler.schema import detect_version, validate_schema
from uis_compiler.source import DEFAULT_LIMITS, ParseLimits, SourceDocument, parse
from uis_compiler.types import Engine, Issue, Severity


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Every issue of one document, and its model when the schema layer passed."""

    issues: tuple[Issue, ...]
    spec: Spec | None
    engine: Engine | None
    document: SourceDocument

    @property
    def valid(self) -> bool:
        """True when no issue is an error (warnings allowed)."""
        return self.spec is not None and not any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)


def validate(
    source: str | bytes,
    *,
    strict: bool = False,
    engine: Engine | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    grants: Grants = DEFAULT_GRANTS,
) -> ValidationResult:
    """Check a UIS document; ``engine`` overrides the engine the spec would choose.

    ``grants`` say which secret references each tenant may use (the operator's setting).
    """
    doc = parse(source, limits)
    issues = list(doc.issues)
    spec: Spec | None = None
    chosen: Engine | None = None
    if doc.data is not None:
        version, version_issues = detect_version(doc, doc.data)
        issues += version_issues
        issues += unknown_keys(doc, doc.data, MODELS[version], strict=strict)
        spec, schema_issues = validate_schema(doc, doc.data, version)
        issues += schema_issues
        if spec is not None:
            chosen = engine or choose_engine(spec)
            context = rules.Context(doc, spec, chosen, strict, grants)
            rules.check(context)
            issues += context.issues
    ordered = tuple(sorted(issues, key=Issue.sort_key))
    return ValidationResult(ordered, spec, chosen, doc)
