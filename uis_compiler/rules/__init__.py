"""Semantic rules: what the fields of a schema-valid document mean together."""

from __future__ import annotations

from uis_compiler.rules.context import Context
from uis_compiler.rules.endpoints import check_endpoints
from uis_compiler.rules.engines import check_engine
from uis_compiler.rules.provider import check_provider
from uis_compiler.rules.quality import check_quality
from uis_compiler.rules.sinks import check_sinks
from uis_compiler.rules.transforms import check_transforms
from uis_compiler.rules.variables import check_variables

RULES = (
    check_provider,
    check_endpoints,
    check_variables,
    check_transforms,
    check_sinks,
    check_quality,
    check_engine,
)


def check(context: Context) -> None:
    """Run every semantic rule, collecting issues on ``context``."""
    for rule in RULES:
        rule(context)


__all__ = ["Context", "check"]
