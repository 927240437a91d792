"""Compile-time resolution shared by the compilers: config values, fan-out lists, variables."""

from __future__ import annotations

from typing import Any

from uis_compiler.models import Endpoint, Spec
from uis_compiler.templates import VariableKind, classify, expressions, render, template_sites


def fan_out_lists(spec: Spec) -> dict[str, list[str]]:
    """Each fan-out variable with its values (lists named by `{{ config.X }}` looked up)."""
    settings = spec.provider.settings
    extra = settings.model_extra or {}
    lists: dict[str, list[str]] = {}
    for name, value in (settings.fan_out or {}).items():
        if isinstance(value, str):
            (expr,) = expressions(value)
            value = extra[expr.removeprefix("config.")]
        lists[name] = [scalar_text(item) for item in value]
    return lists


def scalar_text(value: Any) -> str:
    """A config value as it appears inside a URL or header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(scalar_text(item) for item in value)
    return "" if value is None else str(value)


def config_value(spec: Spec, key: str) -> str:
    settings = spec.provider.settings
    known = {**settings.model_dump(exclude_none=True), **(settings.model_extra or {})}
    return scalar_text(known[key])


def canonical(spec: Spec, text: str) -> str:
    """A template with config values inlined and the remaining placeholders canonical.

    Canonical forms: ``{{ secrets.NAME }}``, ``{{ credentials.KEY }}``, ``{{ start_date }}`` /
    ``{{ end_date }}`` (for the from/to aliases), and ``{{ name }}`` for other variables.
    """
    fan_out = spec.provider.settings.fan_out or {}

    def one(expr: str) -> str:
        variable = classify(expr, fan_out)
        if variable.kind is VariableKind.CONFIG:
            return config_value(spec, variable.name)
        if variable.kind is VariableKind.SECRET:
            return f"{{{{ secrets.{variable.name} }}}}"
        if variable.kind is VariableKind.CREDENTIAL:
            return f"{{{{ credentials.{variable.name} }}}}"
        return f"{{{{ {variable.name} }}}}"

    return render(text, one)


def endpoint_variables(spec: Spec, endpoint: Endpoint) -> dict[str, VariableKind]:
    """Every variable an endpoint's templates use (config ones excluded: they are inlined)."""
    fan_out = spec.provider.settings.fan_out or {}
    found: dict[str, VariableKind] = {}
    for _, _, text in template_sites((), endpoint):
        for expr in expressions(text):
            variable = classify(expr, fan_out)
            if variable.kind is not VariableKind.CONFIG:
                found[variable.name] = variable.kind
    return dict(sorted(found.items()))


def run_parameters(spec: Spec) -> list[str]:
    """Names every run must supply (variables no part of the spec defines)."""
    names = {
        name
        for endpoint in spec.provider.active_endpoints
        for name, kind in endpoint_variables(spec, endpoint).items()
        if kind is VariableKind.PARAMETER
    }
    return sorted(names)


def sink_secret(index: int) -> str:
    """The name under which sink ``index``'s credentials_ref is listed among the secrets."""
    return f"sink{index}_credentials"
