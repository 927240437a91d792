"""JSON Schema export: both versions, committed copies current, examples conform."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from uis_docs import EXAMPLES

from uis_compiler.json_schema import VERSIONS, dumps, uis_schema
from uis_compiler.plan import PLAN_VERSION, plan_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "uis_compiler" / "schemas"


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_is_valid_json_schema(version: str) -> None:
    schema = uis_schema(version)
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"]["enum"] == [version]


def test_only_12_has_its_own_fields() -> None:
    assert "schemaRef" not in uis_schema("1.1")["properties"]
    assert {"schemaRef", "compatMode"} <= set(uis_schema("1.2")["properties"])


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_conform_to_the_exported_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    errors = list(Draft202012Validator(uis_schema(data["version"])).iter_errors(data))
    assert errors == []


def test_schema_rejects_what_validation_rejects() -> None:
    data = yaml.safe_load((EXAMPLES / "pokeapi_offset.yaml").read_text())
    data["provider"]["mode"] = "sometimes"
    errors = list(Draft202012Validator(uis_schema("1.2")).iter_errors(data))
    assert [list(e.path) for e in errors] == [["provider", "mode"]]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        *((f"uis-{v}.schema.json", lambda v=v: uis_schema(v)) for v in VERSIONS),
        (f"spark-plan-{PLAN_VERSION}.schema.json", plan_schema),
    ],
)
def test_committed_schemas_are_current(name: str, make: object) -> None:
    assert callable(make)
    committed = (SCHEMAS / name).read_text()
    assert committed == dumps(make()), f"regenerate with: headwater uis schema > {name}"
