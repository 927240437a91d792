"""`{{ … }}` templates: finding them, and what each variable name refers to.

A variable is one of: ``secrets.NAME`` (a secret of ``global_config.secrets``), ``config.KEY``
(a value of ``provider.config``), a fan-out variable, a window bound (``start_date`` …), a run
context value (``run_id``, ``logical_date``), a key inside the ``credentials_ref`` secret (a
well-known credential name such as ``api_key``), or a run parameter supplied at trigger time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from uis_compiler.models import Endpoint
from uis_compiler.types import Path

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPRESSION = re.compile(r"^(?:(secrets|config)\.)?([A-Za-z_][A-Za-z0-9_-]*)$")

WINDOW_VARIABLES: dict[str, str] = {
    "start_date": "start_date",
    "end_date": "end_date",
    "from_date": "start_date",
    "to_date": "end_date",
}
RUN_VARIABLES = frozenset({"run_id", "logical_date"})
#: Bare names that are keys inside the ``credentials_ref`` secret.
CREDENTIAL_KEYS = frozenset(
    {"api_key", "token", "access_token", "username", "password", "client_id", "client_secret"}
)


class VariableKind(StrEnum):
    SECRET = "secret"
    CREDENTIAL = "credential"
    CONFIG = "config"
    FAN_OUT = "fan_out"
    WINDOW = "window"
    RUN = "run"
    PARAMETER = "parameter"


@dataclass(frozen=True, slots=True)
class Variable:
    """One ``{{ … }}`` occurrence, classified."""

    kind: VariableKind
    name: str
    text: str

    @property
    def is_secret(self) -> bool:
        return self.kind in (VariableKind.SECRET, VariableKind.CREDENTIAL)


class TemplateSyntaxError(ValueError):
    """A malformed template; ``fragment`` is the offending text."""

    def __init__(self, message: str, fragment: str) -> None:
        super().__init__(message)
        self.fragment = fragment


def expressions(text: str) -> list[str]:
    """The expressions inside ``{{ }}`` in ``text``; raises on unbalanced or bad ones."""
    found: list[str] = []
    for match in _TEMPLATE.finditer(text):
        expr = match.group(1).strip()
        if not _EXPRESSION.match(expr):
            raise TemplateSyntaxError(
                f"`{match.group(0)}` is not a variable: write `{{{{ name }}}}`, "
                "`{{ secrets.NAME }}` or `{{ config.KEY }}`",
                match.group(0),
            )
        found.append(expr)
    rest = _TEMPLATE.sub("", text)
    for stray in ("{{", "}}"):
        if stray in rest:
            raise TemplateSyntaxError(f"`{stray}` has no matching partner in `{text}`", stray)
    return found


def classify(expr: str, fan_out: Iterable[str]) -> Variable:
    """What a (syntactically valid) expression refers to."""
    match = _EXPRESSION.match(expr)
    assert match is not None, expr
    namespace, name = match.groups()
    if namespace == "secrets":
        return Variable(VariableKind.SECRET, name, expr)
    if namespace == "config":
        return Variable(VariableKind.CONFIG, name, expr)
    if name in fan_out:
        return Variable(VariableKind.FAN_OUT, name, expr)
    if name in WINDOW_VARIABLES:
        return Variable(VariableKind.WINDOW, WINDOW_VARIABLES[name], expr)
    if name in RUN_VARIABLES:
        return Variable(VariableKind.RUN, name, expr)
    if name in CREDENTIAL_KEYS:
        return Variable(VariableKind.CREDENTIAL, name, expr)
    return Variable(VariableKind.PARAMETER, name, expr)


def render(text: str, lookup: Callable[[str], str]) -> str:
    """Replace each ``{{ expr }}`` with ``lookup(expr)`` (expressions already validated)."""
    return _TEMPLATE.sub(lambda match: lookup(match.group(1).strip()), text)


def has_template(text: str) -> bool:
    return "{{" in text


def is_single_template(text: str) -> bool:
    """True when ``text`` is exactly one ``{{ … }}`` and nothing else."""
    match = _TEMPLATE.fullmatch(text.strip())
    return match is not None and "{{" not in match.group(1)


def template_sites(endpoint_path: Path, endpoint: Endpoint) -> Iterator[tuple[Path, str, str]]:
    """(path, section, text) of every string of an endpoint that may hold templates."""
    yield (*endpoint_path, "path"), "path", endpoint.path
    for name, value in (endpoint.headers or {}).items():
        yield (*endpoint_path, "headers", name), "headers", value
    for name, value in (endpoint.query_params or {}).items():
        if isinstance(value, str):
            yield (*endpoint_path, "query_params", name), "query_params", value
    if endpoint.body_template is not None:
        yield (*endpoint_path, "body_template"), "body_template", endpoint.body_template
    if endpoint.auth_config is not None and endpoint.auth_config.header_format is not None:
        header_format = endpoint.auth_config.header_format
        yield (*endpoint_path, "auth_config", "header_format"), "auth_config", header_format
    for column, source in (endpoint.field_mapping or {}).items():
        yield (*endpoint_path, "field_mapping", column), "field_mapping", source
