"""What a spec may change on the platform: Iceberg table properties (known names, checked values,
never spliced into SQL), Python transforms (only listed modules, refused before the import) and
the ports a job opens (no Spark UI; loopback for a local master)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_client import Api, Keys, spec_for
from attacks import attempt, refused
from paged_api import ITEMS_ENDPOINT, RunningApi, compile_plan, spec_text
from pydantic import ValidationError
from pyspark.sql import SparkSession

from runner.ingest.job import JobConfig
from uis_compiler import validate
from uis_compiler.compilers.options import CompileOptions, SparkOptions
from uis_compiler.compilers.spark import submit_args
from uis_compiler.grants import Grants
from uis_compiler.plan import SparkPlan

CREATE = """mutation($spec: String!) { createProvider(spec: $spec) {
  __typename ... on SpecInvalid { issues { code path message } } } }"""
SINK = "        format-version: 2\n"


def _with_properties(properties: str) -> str:
    return spec_for(**{SINK: f"{SINK}        properties: {properties}\n"})


@pytest.mark.parametrize(
    ("properties", "path"),
    [
        ("{write.data.path: /var/lib/other-tenant}", '["write.data.path"]'),
        ("{location: s3://another-bucket/t}", ".location"),
        ("{write.format.default: \"parquet') TBLPROPERTIES ('x'='y\"}", '["write.format.default"]'),
        ("{write.metadata.path: /tmp/m}", '["write.metadata.path"]'),
        ("{some.future.switch: on}", '["some.future.switch"]'),
    ],
)
async def test_table_properties_outside_the_list_are_refused(
    api: Api, keys: Keys, properties: str, path: str
) -> None:
    text = _with_properties(properties)
    assert "properties:" in text
    saved = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert saved["__typename"] == "SpecInvalid", saved
    codes = {(i["code"], i["path"]) for i in saved["issues"]}
    assert ("UIS-E082", f"provider.sinks[0].config.properties{path}") in codes


def _plan(source: RunningApi, namespace: str, **provider: Any) -> SparkPlan:
    sink = {"type": "iceberg", "table_name": f"{namespace}.items", "config": {}}
    text = spec_text(source.base_url, ITEMS_ENDPOINT, {"sinks": [sink], **provider})
    return compile_plan(text, grants=Grants(python_modules=frozenset({"evil_transform"})))


def test_a_tampered_plan_with_a_placing_property_is_not_run(source: RunningApi) -> None:
    document = _plan(source, "attack_props").model_dump(mode="json")
    document["sinks"][0]["properties"] = {"write.data.path": "/var/lib/other-tenant"}
    with pytest.raises(ValidationError, match="places the table's files"):
        SparkPlan.model_validate(document)


def test_listed_properties_are_set_through_the_api(spark: SparkSession, source: RunningApi) -> None:
    namespace = "attack_props_ok"
    spark.sql(f"DROP TABLE IF EXISTS headwater.{namespace}.items")
    sink = {"type": "iceberg", "table_name": f"{namespace}.items",
            "config": {"properties": {"write.parquet.compression-codec": "zstd",
                                      "commit.retry.num-retries": 7}}}  # fmt: skip
    plan = compile_plan(spec_text(source.base_url, ITEMS_ENDPOINT, {"sinks": [sink]}))
    outcome = attempt(spark, plan)
    assert outcome.error is None, outcome.log
    shown = {row["key"]: row["value"] for row in
             spark.sql(f"SHOW TBLPROPERTIES headwater.{namespace}.items").collect()}  # fmt: skip
    assert shown["write.parquet.compression-codec"] == "zstd"
    assert shown["commit.retry.num-retries"] == "7"


TRANSFORM = {
    "name": "shaped",
    "type": "python",
    "python_module": "evil_transform",
    "python_function": "shaped",
    "parameters": {"views": {"source": "items"}},
}


async def test_the_api_refuses_an_unlisted_python_module(api: Api, keys: Keys) -> None:
    transform = (
        "  transforms:\n    - name: shaped\n      type: python\n      python_module: os\n"
        "      python_function: system\n"
    )
    text = spec_for(**{"  transforms:\n": transform})
    saved = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert saved["__typename"] == "SpecInvalid", saved
    issue = next(i for i in saved["issues"] if i["code"] == "UIS-E083")
    assert issue["path"] == "provider.transforms[0].python_module"


def test_the_job_refuses_an_unlisted_module_before_importing_it(
    spark: SparkSession, source: RunningApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    monkeypatch.setenv("HEADWATER_TEST_IMPORT_MARKER", str(marker))
    plan = _plan(source, "attack_python", transforms=[TRANSFORM])
    # The platform's grant (no module listed), not the one the plan was validated with.
    outcome = attempt(spark, plan, JobConfig(grants=Grants()))
    refused(outcome, "the module `evil_transform` is not on the platform's list")
    assert not marker.exists(), "the module was imported"


def test_no_spark_ui_and_loopback_only(spark: SparkSession, source: RunningApi) -> None:
    # The warm session: no UI, the driver on loopback.
    assert spark.sparkContext.uiWebUrl is None
    assert spark.conf.get("spark.driver.bindAddress") == "127.0.0.1"
    # A submitted run: the same, whatever the spec asks.
    ui_on = {"config": {"spark_config": {"spark.ui.enabled": "true"}}}
    result = validate(spec_text(source.base_url, ITEMS_ENDPOINT, ui_on))
    assert "UIS-E077" in {issue.code for issue in result.errors}
    plan = compile_plan(spec_text(source.base_url, ITEMS_ENDPOINT))
    args = submit_args(plan, CompileOptions(spark=SparkOptions(master="local[2]")))
    confs = {args[i + 1] for i, arg in enumerate(args) if arg == "--conf"}
    assert {"spark.ui.enabled=false", "spark.driver.bindAddress=127.0.0.1"} <= confs
