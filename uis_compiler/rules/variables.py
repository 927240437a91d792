"""Template variables: each `{{ … }}` must name something that will exist when a run starts."""

from __future__ import annotations

from typing import Any

from uis_compiler import codes
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.suggest import did_you_mean
from uis_compiler.templates import (
    TemplateSyntaxError,
    Variable,
    VariableKind,
    classify,
    expressions,
    template_sites,
)
from uis_compiler.types import Path

#: Places where a secret may not go: URLs end up in logs, mapped values in tables.
_NO_SECRETS = frozenset({"path", "field_mapping"})


def check_variables(ctx: Context) -> None:
    used: set[str] = set()
    for endpoint_path, endpoint in ctx.endpoints():
        for path, section, text in template_sites(endpoint_path, endpoint):
            try:
                found = expressions(text)
            except TemplateSyntaxError as exc:
                ctx.report(codes.TEMPLATE_SYNTAX, path, str(exc))
                continue
            for expr in found:
                variable = classify(expr, ctx.fan_out)
                used.add(variable.name)
                _check(ctx, path, section, variable)
    _check_fan_out(ctx, used)


def _check(ctx: Context, path: Path, section: str, variable: Variable) -> None:
    spec = ctx.spec
    if variable.is_secret and section in _NO_SECRETS:
        ctx.report(
            codes.TEMPLATE_NOT_ALLOWED,
            path,
            f"`{{{{ {variable.text} }}}}` is a secret; in `{section}` it would end up in "
            + ("request logs" if section == "path" else "the ingested table"),
            "send secrets in headers, query_params or the body, or through `auth`",
        )
    if variable.kind is VariableKind.SECRET and variable.name not in spec.secrets:
        ctx.report(
            codes.TEMPLATE_UNKNOWN_SECRET,
            path,
            f"`{{{{ {variable.text} }}}}` names no secret in `global_config.secrets`",
            _nearby(variable.name, spec.secrets)
            or f"add `global_config: {{secrets: {{{variable.name}: env:…}}}}`",
        )
    elif variable.kind is VariableKind.CONFIG:
        settings = spec.provider.settings
        known = {**settings.model_dump(exclude_none=True), **(settings.model_extra or {})}
        if variable.name not in known:
            ctx.report(
                codes.TEMPLATE_UNKNOWN_CONFIG,
                path,
                f"`{{{{ {variable.text} }}}}` names no key of `provider.config`",
                _nearby(variable.name, known) or f"add `{variable.name}:` under `provider.config`",
            )
    elif variable.kind is VariableKind.CREDENTIAL and spec.provider.credentials_ref is None:
        ctx.report(
            codes.CREDENTIAL_WITHOUT_REF,
            path,
            f"`{{{{ {variable.text} }}}}` is a key of the credentials_ref secret, but "
            "`provider.credentials_ref` is not set",
            "set `provider.credentials_ref` (e.g. `env:HEADWATER_SECRET_API_KEY`), or use "
            "`{{ secrets.NAME }}`",
        )
    elif variable.kind is VariableKind.PARAMETER:
        ctx.report(
            codes.TEMPLATE_RUN_PARAMETER,
            path,
            f"`{{{{ {variable.text} }}}}` is not defined by the spec; every run must pass "
            f"it as a parameter (a run without it fails to start)",
            _nearby(variable.name, ctx.fan_out)
            or "define it in config.fan_out, or pass it: triggerRun(parameters: {…})",
        )


def _nearby(name: str, choices: Any) -> str | None:
    return did_you_mean(name, [str(choice) for choice in choices])


def _check_fan_out(ctx: Context, used: set[str]) -> None:
    settings = ctx.spec.provider.settings
    base: Path = (*PROVIDER, "config", "fan_out")
    extra = settings.model_extra or {}
    for name, value in ctx.fan_out.items():
        path = (*base, name)
        problem = _fan_out_problem(value, extra)
        if problem is not None:
            ctx.report(
                codes.FAN_OUT_INVALID,
                path,
                f"fan_out `{name}`: {problem}",
                "write a list (`ticker: [AAPL, MSFT]`) or name a list in config "
                '(`ticker: "{{ config.default_tickers }}"`)',
            )
        elif name not in used:
            ctx.report(
                codes.FAN_OUT_UNUSED,
                path,
                f"fan_out `{name}` multiplies requests, but no template uses `{{{{ {name} }}}}`",
                f"use `{{{{ {name} }}}}` in an endpoint's path or query_params, or remove it",
                at_key=True,
            )


def _fan_out_problem(value: object, extra: dict[str, Any]) -> str | None:
    if isinstance(value, list):
        return None if value else "the list is empty, so no request would be made"
    if isinstance(value, str):
        try:
            found = expressions(value)
        except TemplateSyntaxError as exc:
            return str(exc)
        if len(found) != 1 or not found[0].startswith("config."):
            return f"`{value}` is neither a list nor `{{{{ config.NAME }}}}`"
        target = extra.get(found[0].removeprefix("config."))
        if not isinstance(target, list) or not target:
            return f"`{value}` does not name a non-empty list in provider.config"
        return None
    return "it must be a list of values or a template naming one"
