"""The JSONPath subset used for records, next-page URLs and cursors."""

from __future__ import annotations

import pytest

from uis_compiler.jsonpath import JsonPathError, extract, first, parse, parse_field


def test_parse_steps() -> None:
    assert parse("$") == ()
    assert parse("$.results") == ("results",)
    assert parse("$.data['the items'][*]") == ("data", "the items", None)
    assert parse("$.a[0].b.*") == ("a", 0, "b", None)


@pytest.mark.parametrize("path", ["results", "$.", "$..a", "$[?(@.x)]", "$.a[", "$ .a"])
def test_unsupported_paths(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse(path)


def test_extract() -> None:
    doc = {"results": [{"v": 1}, {"v": 2}], "meta": {"next": "abc"}}
    assert extract(doc, parse("$.results")) == [{"v": 1}, {"v": 2}]
    assert extract(doc, parse("$.results[*].v")) == [1, 2]
    assert first(doc, parse("$.meta.next")) == "abc"
    assert first(doc, parse("$.missing")) is None
    assert extract([1, 2], parse("$")) == [1, 2]


def test_field_paths() -> None:
    assert parse_field("day.close") == ("day", "close")
    with pytest.raises(JsonPathError):
        parse_field("a..b")
