"""The HOCON writer: exact text for quoting and escaping, and round trips through pyhocon."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyhocon import ConfigFactory, ConfigTree

from uis_compiler.compilers.hocon import Block, Comment, Name, Value, key_text, quote, render


def parse(text: str) -> ConfigTree:
    return ConfigFactory.parse_string(text)


def plain(value: Any) -> Any:
    """pyhocon's tree as dicts; pyhocon keeps the quotes of keys that need them, drop those."""
    if isinstance(value, ConfigTree):
        return {key.strip('"'): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\temp\\", '"C:\\\\temp\\\\"'),
        ("two\nlines", '"two\\nlines"'),
        ("tab\there\r", '"tab\\there\\r"'),
        ("${not_hocon}", '"${not_hocon}"'),
        ("bell\x07", '"bell\\u0007"'),
        ("del\x7f", '"del\\u007f"'),
        ("line\u2028sep", '"line\\u2028sep"'),
        ("lone\ud800", '"lone\\ud800"'),
        ("Zürich · 東京", '"Zürich · 東京"'),
        ("", '""'),
    ],
)
def test_quote_escapes_exactly_what_json_needs(value: str, text: str) -> None:
    assert quote(value) == text


@pytest.mark.parametrize(
    "value",
    [
        'quote " inside',
        "back\\slash and \\n literally",
        "new\nline and\ttab",
        "${secrets_api_key} and ${x:default}",
        "unicode: é ß 東京 🚀",
        "dollar $ alone and braces { } [ ]",
        "# not a comment // nor this",
    ],
)
def test_strings_round_trip_through_pyhocon(value: str) -> None:
    text = render({"key": value, "list": [value, value]})
    tree = parse(text)
    assert tree["key"] == value
    assert tree["list"] == [value, value]


def test_placeholders_in_strings_are_not_substituted() -> None:
    tree = parse(render({"a": "x", "b": "${a}"}))
    assert tree["b"] == "${a}"


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("job.mode", "job.mode"),
        ("iceberg.table.primary-keys", "iceberg.table.primary-keys"),
        ("a.b c.d", 'a."b c".d'),
        ("price$", '"price$"'),
        (Name("job.mode"), '"job.mode"'),
        (Name("Authorization"), '"Authorization"'),
        (Name("X-API-Key"), '"X-API-Key"'),
        (Name("format-version"), '"format-version"'),
        (Name('we"ird\\'), '"we\\"ird\\\\"'),
    ],
)
def test_key_text(key: str, text: str) -> None:
    assert key_text(key) == text


@pytest.mark.parametrize("key", ["", "a..b", ".a", "a."])
def test_path_keys_refuse_empty_segments(key: str) -> None:
    with pytest.raises(ValueError, match="empty segment"):
        key_text(key)


def test_path_keys_nest_and_names_stay_one_key() -> None:
    text = render(
        {
            "env": {"job.mode": "BATCH", "checkpoint.interval": 10000},
            "props": {Name("write.format.default"): "parquet", Name("format-version"): "2"},
        }
    )
    tree = parse(text)
    assert tree.get_string("env.job.mode") == "BATCH"
    assert tree.get_int("env.checkpoint.interval") == 10000
    assert plain(tree["props"]) == {"write.format.default": "parquet", "format-version": "2"}
    assert '  "write.format.default" = "parquet"' in text.splitlines()


def test_keys_with_dashes_spaces_and_dollars_round_trip() -> None:
    headers: dict[str, Value] = {
        Name("X-API-Key"): "${credentials_api_key}",
        Name("Accept Language"): "en",
        Name("$weird"): "1",
    }
    tree = parse(render({"headers": headers}))
    assert plain(tree["headers"]) == {
        "X-API-Key": "${credentials_api_key}",
        "Accept Language": "en",
        "$weird": "1",
    }


def test_scalars_and_lists() -> None:
    text = render({"t": True, "f": False, "n": None, "i": -3, "x": 2.5, "big": 1e20, "l": []})
    assert text == ("t = true\nf = false\nn = null\ni = -3\nx = 2.5\nbig = 1e+20\nl = []\n")
    tree = parse(text)
    assert (tree["t"], tree["f"], tree["n"], tree["i"], tree["x"]) == (True, False, None, -3, 2.5)
    assert tree["big"] == 1e20


def test_nested_lists_and_objects_round_trip() -> None:
    value: dict[str, Value] = {
        "rows": [{"a": 1, "b": ["x", "y"]}, [1, 2], {}, "s"],
        "empty": {},
        "deep": {"one": {"two": {"three": "3"}}},
    }
    assert plain(parse(render(value))) == {
        "rows": [{"a": 1, "b": ["x", "y"]}, [1, 2], {}, "s"],
        "empty": {},
        "deep": {"one": {"two": {"three": "3"}}},
    }


def test_blocks_keep_order_and_repeated_keys() -> None:
    source = Block((("Http", {"url": "a"}), Comment("second"), ("Http", {"url": "b"})))
    text = render(Block((("source", source),)))
    assert text == (
        'source {\n  Http {\n    url = "a"\n  }\n  # second\n  Http {\n    url = "b"\n  }\n}\n'
    )


def test_comments_and_header_cannot_inject_configuration() -> None:
    text = render(
        Block((Comment("note\ninjected = 1"), ("kept", 1))), header=("title\r\nsneaky = 2",)
    )
    tree = parse(text)
    assert plain(tree) == {"kept": 1}
    assert text.splitlines()[0] == "# title sneaky = 2"


def test_rendering_is_deterministic() -> None:
    tree = Block((("env", {"b": 1, "a": [1, {"z": "y"}]}), ("source", Block(()))))
    assert render(tree) == render(tree)
    assert render(tree).endswith("}\n")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="no HOCON form"):
        render({"x": value})


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot write a set"):
        render({"x": {1, 2}})  # type: ignore[dict-item]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.sampled_from('\n\t\r"\\$')
    )
)
def test_any_printable_text_round_trips(value: str) -> None:
    assert parse(render({"key": value}))["key"] == value
