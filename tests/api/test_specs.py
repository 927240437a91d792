"""validateSpec and compileSpec: the editor's checks over GraphQL, nothing saved."""

from __future__ import annotations

from api_client import Api, Keys, spec_for

from api.models import Provider

VALIDATE = """query($t: String!, $strict: Boolean!) { validateSpec(text: $t, strict: $strict) {
  valid version engine issues { code severity line column path message hint } } }"""
COMPILE = """query($t: String!, $e: EngineEnum!) { compileSpec(text: $t, engine: $e) {
  ok engine output issues { code line column } } }"""


async def test_validate_reports_positions_and_saves_nothing(api: Api, keys: Keys) -> None:
    text = spec_for() + "colour: blue\n"
    result = (await api.data(VALIDATE, {"t": text, "strict": False}, keys.read))["validateSpec"]
    assert (result["valid"], result["version"], result["engine"]) == (True, "1.2", "spark")
    (issue,) = result["issues"]
    assert issue["code"] == "UIS-W020" and issue["severity"] == "warning"
    assert issue["line"] == text.count("\n") and issue["column"] == 1
    strict = (await api.data(VALIDATE, {"t": text, "strict": True}, keys.read))["validateSpec"]
    assert strict["valid"] is False and strict["issues"][0]["code"] == "UIS-E026"
    assert await Provider.all().count() == 0


async def test_validate_survives_garbage(api: Api, keys: Keys) -> None:
    result = await api.data(VALIDATE, {"t": "a: [1, 2\n\x00", "strict": False}, keys.read)
    found = result["validateSpec"]
    assert found["valid"] is False and found["issues"][0]["code"] == "UIS-E001"


async def test_compile_each_engine(api: Api, keys: Keys) -> None:
    spark = (await api.data(COMPILE, {"t": spec_for(), "e": "SPARK"}, keys.read))["compileSpec"]
    assert spark["ok"] is True and '"plan_version": "1"' in spark["output"]
    flink = (await api.data(COMPILE, {"t": spec_for(), "e": "FLINK"}, keys.read))["compileSpec"]
    assert flink["ok"] is False and flink["output"] is None
    assert flink["issues"][0]["code"] == "UIS-E055"
