"""Templates: finding `{{ … }}` expressions and classifying their variables."""

from __future__ import annotations

import pytest

from uis_compiler.templates import (
    TemplateSyntaxError,
    VariableKind,
    classify,
    expressions,
    is_single_template,
    render,
)


def test_expressions_are_found_and_trimmed() -> None:
    text = "/v2/{{ticker}}/range/{{  start_date }}/{{ secrets.k }}"
    assert expressions(text) == ["ticker", "start_date", "secrets.k"]


@pytest.mark.parametrize(
    "text", ["{{ a b }}", "{{ }}", "{{ a", "b }}", "{{ other.x }}", "{{ 1a }}"]
)
def test_malformed_templates_raise(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        expressions(text)


@pytest.mark.parametrize(
    ("expr", "kind", "name"),
    [
        ("secrets.polygon", VariableKind.SECRET, "polygon"),
        ("config.region", VariableKind.CONFIG, "region"),
        ("ticker", VariableKind.FAN_OUT, "ticker"),
        ("from_date", VariableKind.WINDOW, "start_date"),
        ("to_date", VariableKind.WINDOW, "end_date"),
        ("run_id", VariableKind.RUN, "run_id"),
        ("api_key", VariableKind.CREDENTIAL, "api_key"),
        ("region", VariableKind.PARAMETER, "region"),
    ],
)
def test_classification(expr: str, kind: VariableKind, name: str) -> None:
    variable = classify(expr, fan_out={"ticker"})
    assert (variable.kind, variable.name) == (kind, name)


def test_render_and_single_template() -> None:
    assert render("a{{ x }}b{{y}}", lambda e: e.upper()) == "aXbY"
    assert is_single_template(" {{ ticker }} ")
    assert not is_single_template("{{ a }}{{ b }}")
    assert not is_single_template("x{{ a }}")
