"""Parsing with positions: every node's line and column, YAML 1.1 semantics, hostile input."""

from __future__ import annotations

import codecs
import json

from uis_compiler import codes
from uis_compiler.source import ParseLimits, parse
from uis_compiler.types import Position


def test_positions_of_keys_and_values() -> None:
    doc = parse("a:\n  b:\n    - x\n    - {c: 1}\n")
    assert doc.data == {"a": {"b": ["x", {"c": 1}]}}
    assert doc.position(("a", "b", 1, "c")) == Position(4, 11)
    assert doc.key_position(("a", "b")) == Position(2, 3)
    assert doc.position(("a", "b", 0)) == Position(3, 7)


def test_unknown_path_falls_back_to_nearest_ancestor() -> None:
    doc = parse("a:\n  b: 1\n")
    assert doc.position(("a", "b", "nowhere", 3)) == Position(2, 6)


def test_scalars_keep_yaml_11_meaning_and_dates_stay_text() -> None:
    doc = parse("i: 0x1F\nu: 1_000\nf: .inf\nb: yes\nn: ~\nd: 2024-01-05\ns: '007'\n")
    assert doc.data is not None
    assert doc.data["i"] == 31
    assert doc.data["u"] == 1000
    assert doc.data["f"] == float("inf")
    assert doc.data["b"] is True
    assert doc.data["n"] is None
    assert doc.data["d"] == "2024-01-05"
    assert doc.data["s"] == "007"


def test_merge_keys_apply_like_safe_load() -> None:
    doc = parse("base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\n")
    assert doc.data is not None
    assert doc.data["item"] == {"x": 1, "y": 3}


def test_json_input_has_positions() -> None:
    text = json.dumps({"version": "1.2", "provider": {"name": "p"}}, indent=2)
    doc = parse(text)
    assert doc.data == {"version": "1.2", "provider": {"name": "p"}}
    assert doc.position(("provider", "name")) == Position(4, 13)


def test_byte_order_marks() -> None:
    assert parse(codecs.BOM_UTF8 + b"a: 1\n").data == {"a": 1}
    assert parse("a: é\n".encode("utf-16")).data == {"a": "é"}


def test_numeric_keys_become_text() -> None:
    assert parse("200: ok\ntrue: x\n").data == {"200": "ok", "true": "x"}


def test_duplicate_key_is_a_warning_and_last_wins() -> None:
    doc = parse("a: 1\na: 2\n")
    assert doc.data == {"a": 2}
    assert [(i.code, i.line, i.column) for i in doc.issues] == [(codes.DUPLICATE_KEY.id, 2, 1)]


def test_unpaired_surrogate_is_not_text() -> None:
    doc = parse("a: \ud800\n")
    assert doc.data is None
    assert doc.issues[0].code == codes.NOT_TEXT.id


def test_control_characters_are_a_syntax_error_with_position() -> None:
    doc = parse("a: 1\nb: \x00\n")
    assert doc.data is None
    issue = doc.issues[0]
    assert issue.code == codes.YAML_SYNTAX.id
    assert (issue.line, issue.column) == (2, 4)
    assert issue.hint is not None and "control characters" in issue.hint


def test_libyaml_nesting_limit_is_a_structured_issue() -> None:
    doc = parse("[" * 5000)
    assert doc.data is None
    assert doc.issues[0].code == codes.YAML_SYNTAX.id


def test_shared_anchor_counts_every_expansion() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"
    assert parse(text, ParseLimits(max_nodes=20)).data is not None
    refused = parse(text, ParseLimits(max_nodes=12))
    assert refused.data is None
    assert refused.issues[0].code == codes.ALIAS_EXPANSION.id


def test_bad_merge_target_is_reported() -> None:
    doc = parse("a:\n  <<: [1]\n")
    assert doc.data is None
    assert doc.issues[0].code == codes.WRONG_TYPE.id


def test_tab_indentation_gets_a_hint() -> None:
    issue = parse("a:\n\tb: 1\n").issues[0]
    assert (issue.code, issue.line, issue.column) == (codes.YAML_SYNTAX.id, 2, 1)
    assert issue.hint == "indent with spaces, not tabs"


def test_tab_indented_json_parses_with_exact_positions() -> None:
    doc = parse('{\n\t"a": {\n\t\t"b": 1\n\t}\n}\n')
    assert doc.data == {"a": {"b": 1}}
    assert doc.position(("a", "b")) == Position(3, 8)
