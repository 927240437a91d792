"""Property-based fuzzing: no input text produces anything but structured issues."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uis_docs import EXAMPLES, document

from uis_compiler import validate
from uis_compiler.codes import CATALOGUE
from uis_compiler.types import Severity

_SEEDS = [document(), *(path.read_text() for path in sorted(EXAMPLES.glob("*.yaml")))]
_YAML_BITS = [
    ":", "- ", "&a ", "*a", "<<: ", "{", "}", "[", "]", "'", '"', "\n", "  ", "\t", "#", "!!",
    "? ", "|", ">", "---", "...", "{{", "}}", "%YAML 1.1", "\\", "\x00", "\ufeff", "~", "null",
]  # fmt: skip


def _check(text: str | bytes) -> None:
    started = time.perf_counter()
    result = validate(text)
    elapsed = time.perf_counter() - started
    # Bounded work: the limits keep even hostile documents fast.
    assert elapsed < 2.0, elapsed
    for issue in result.issues:
        assert issue.code in CATALOGUE
        assert issue.severity in (Severity.ERROR, Severity.WARNING)
        assert issue.line >= 1 and issue.column >= 1
        assert issue.message
    if result.spec is None:
        assert not result.valid
        assert any(issue.is_error for issue in result.issues)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real document with slices deleted, duplicated, or YAML punctuation spliced in."""
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if action == "insert":
            bit = draw(st.sampled_from(_YAML_BITS) | st.text(max_size=8))
            text = text[:at] + bit + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            text = text[:at] + text[max(0, at - 60) : at] + text[at:]
    return text


_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _check(text)


@_FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@_FUZZ
@given(mutated())
def test_mutated_documents(text: str) -> None:
    _check(text)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12))
def test_alias_bombs_are_bounded(width: int, depth: int) -> None:
    lines = ["l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    for level in range(1, depth):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    _check("\n".join(lines) + "\n")


def test_huge_and_deep_inputs_are_refused_quickly() -> None:
    _check("a: " + "x" * 5_000_000)
    _check("- " * 3000 + "x")
    _check("{" * 100_000)
    _check("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1500)))
