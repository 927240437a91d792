"""File (Parquet) sinks write only under the tenant's file roots, and an overwrite never deletes
more than the run's own partitions there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from api_client import ROOT, Api, Keys, spec_for
from attacks import attempt, refused
from paged_api import RunningApi, item, items_plan
from pyspark.sql import SparkSession

from runner.ingest.job import JobConfig
from uis_compiler.grants import Grants

CREATE = """mutation($spec: String!) { createProvider(spec: $spec) {
  __typename ... on SpecInvalid { issues { code path message } } } }"""
ICEBERG = "    - type: iceberg\n      table_name: market_data.stock_daily_bars\n"
#: The platform's default root for tenant `default`, as the API server knows it.
MINE = ROOT / "var" / "files" / "default"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ("{path: /etc/cron.d}", "provider.sinks[0].config.path"),
        ("{path: ../other/bars}", "provider.sinks[0].config.path"),
        (f"{{path: {ROOT / 'var' / 'files' / 'other' / 'bars'}}}", "provider.sinks[0].config.path"),
        ("{path: bars, write_mode: overwrite_partitions}", "provider.sinks[0].config.write_mode"),
    ],
)
async def test_the_api_refuses_a_file_sink_outside_the_root(
    api: Api, keys: Keys, config: str, path: str
) -> None:
    text = spec_for(**{ICEBERG: f"    - type: parquet\n      config: {config}\n{ICEBERG}"})
    saved = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert saved["__typename"] == "SpecInvalid", saved
    assert ("UIS-E084", path) in {(i["code"], i["path"]) for i in saved["issues"]}


async def test_a_relative_folder_under_the_root_is_accepted(api: Api, keys: Keys) -> None:
    text = spec_for(**{ICEBERG: f"    - type: parquet\n      config: {{path: bars}}\n{ICEBERG}"})
    saved = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert saved["__typename"] == "ProviderSaved", saved


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Grants]:
    """The tenant's root, with a link inside it that points out, and a folder outside."""
    root = tmp_path / "files" / "default"
    root.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, root / "escape")
    return tmp_path, Grants(files_root=str(tmp_path / "files"))


def test_the_job_refuses_a_folder_outside_before_fetching(
    spark: SparkSession, source: RunningApi, roots: tuple[Path, Grants]
) -> None:
    base, grants = roots
    wide = Grants().with_tenant("default", file_roots=("/",))
    for path, fragment in (
        (base / "elsewhere" / "bars", "is outside the tenant's file roots"),
        ("escape/bars", "leads outside the tenant's file roots"),
    ):
        source.api.reset()
        # Validated where anything goes, run where the platform's roots hold.
        plan = items_plan(source.base_url, {"type": "parquet", "config": {"path": str(path)}}, wide)
        refused(attempt(spark, plan, JobConfig(grants=grants)), fragment)
        assert source.api.seen == [], "the run fetched although its sink was refused"
    assert list((base / "elsewhere").iterdir()) == []


def test_an_unpartitioned_overwrite_deletes_nothing(
    spark: SparkSession, source: RunningApi, roots: tuple[Path, Grants]
) -> None:
    base, grants = roots
    folder = base / "files" / "default" / "bars"
    spark.createDataFrame([(99, "kept")], "id long, name string").write.parquet(str(folder))
    before = sorted(folder.glob("*.parquet"))
    sink = {"type": "parquet", "config": {"path": "bars"}}
    valid = items_plan(source.base_url, sink, grants)
    # Validation refuses the overwrite (UIS-E084): the plan is changed after it.
    overwrite = valid.sinks[0].model_copy(update={"write_mode": "overwrite_partitions"})
    plan = valid.model_copy(update={"sinks": [overwrite]})
    source.api.records = [item(1)]
    refused(attempt(spark, plan, JobConfig(grants=grants)), "would delete every file")
    assert sorted(folder.glob("*.parquet")) == before
    assert [row.id for row in spark.read.parquet(str(folder)).collect()] == [99]
