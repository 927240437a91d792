"""compile_text / compile_result: validation for the target engine, then its compiler."""

from __future__ import annotations

import json

import pytest
from uis_docs import EXAMPLES, document

from uis_compiler import codes, validate
from uis_compiler.compiler import compile_result, compile_text
from uis_compiler.exceptions import CompileError


def test_compile_text_dispatches_by_engine() -> None:
    spark = json.loads(compile_text(document(), "spark"))
    assert spark["plan"]["plan_version"] == "1"
    streaming = (EXAMPLES / "kafka_trades_streaming.yaml").read_text()
    assert compile_text(streaming, "flink").startswith("-- Flink SQL for UIS spec")
    brewery = (EXAMPLES / "openbrewerydb_paged.yaml").read_text()
    assert compile_text(brewery, "seatunnel").startswith("# SeaTunnel")


def test_invalid_documents_raise_with_their_errors() -> None:
    with pytest.raises(CompileError) as raised:
        compile_text(document(provider="parallelism: 0"), "spark")
    assert [i.code for i in raised.value.issues] == [codes.OUT_OF_RANGE.id]
    assert "line" in str(raised.value)


def test_validation_is_for_the_target_engine() -> None:
    with pytest.raises(CompileError) as raised:
        compile_text(document(), "flink")
    assert codes.SOURCE_ENGINE_UNSUPPORTED.id in [i.code for i in raised.value.issues]


def test_a_result_validated_for_another_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="validated for spark"):
        compile_result(validate(document(), engine="spark"), "seatunnel")


def test_strict_mode_applies() -> None:
    text = document(top="colour: blue")
    assert compile_text(text, "spark")
    with pytest.raises(CompileError):
        compile_text(text, "spark", strict=True)
