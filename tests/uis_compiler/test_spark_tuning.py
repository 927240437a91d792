"""A spec's spark_config reaches only tuning keys: refused in validation and in the plan model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from uis_docs import EXAMPLES, document

from uis_compiler import codes, validate
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.spark import compile_spark, submit_args
from uis_compiler.plan import SparkPlan
from uis_compiler.spark_tuning import TUNING_KEYS, refused

PLATFORM_KEYS = (
    "spark.sql.catalog.iceberg.uri",
    "spark.sql.catalog.iceberg.jdbc.password",
    "spark.jars",
    "spark.jars.packages",
    "spark.driver.extraJavaOptions",
    "spark.executor.extraClassPath",
    "spark.eventLog.dir",
    "spark.ui.enabled",
    "spark.hadoop.fs.s3a.secret.key",
)


@pytest.mark.parametrize("key", PLATFORM_KEYS)
def test_a_platform_key_is_a_positioned_error(key: str) -> None:
    result = validate(document(provider=f'config: {{spark_config: {{"{key}": x}}}}'))
    issues = [i for i in result.errors if i.code == codes.SPARK_CONFIG_NOT_ALLOWED.id]
    assert not result.valid
    assert len(issues) == 1, result.errors
    assert key in issues[0].path and issues[0].line > 0
    assert "tuning" in (issues[0].hint or "")


def test_tuning_keys_pass_validation() -> None:
    keys = "{" + ", ".join(f"{k}: 1" for k in sorted(TUNING_KEYS)) + "}"
    result = validate(document(provider=f"config: {{spark_config: {keys}}}"))
    assert result.valid, result.errors
    assert refused(dict.fromkeys(TUNING_KEYS, "2g")) == []


@pytest.mark.parametrize(
    "value", ["${env:HEADWATER_S3_SECRET_KEY}", "${spark.sql.catalog.headwater.uri}", "8 -Dx=1"]
)
def test_a_tuning_key_takes_only_a_plain_value(value: str) -> None:
    result = validate(
        document(provider=f'config: {{spark_config: {{spark.sql.shuffle.partitions: "{value}"}}}}')
    )
    issues = [i for i in result.errors if i.code == codes.SPARK_CONFIG_NOT_ALLOWED.id]
    assert len(issues) == 1, result.errors
    assert "number, a size or a boolean" in issues[0].message
    assert value not in issues[0].message


def test_a_plan_carrying_a_platform_key_is_refused() -> None:
    result = validate((EXAMPLES / "polygon_stock_daily_bars.yaml").read_text(), engine="spark")
    assert result.spec is not None
    stored = compile_spark(result.spec).plan.model_dump(mode="json")
    stored["spark_config"] = {"spark.driver.extraJavaOptions": "-javaagent:/tmp/a.jar"}
    with pytest.raises(ValidationError, match="extraJavaOptions"):
        SparkPlan.model_validate(stored)


def test_the_platform_catalog_wins_in_submit_args() -> None:
    result = validate((EXAMPLES / "polygon_stock_daily_bars.yaml").read_text(), engine="spark")
    assert result.spec is not None
    built = compile_spark(result.spec).plan
    # A plan changed in memory (never validated again) still cannot move the catalog.
    options = CompileOptions()
    key = f"spark.sql.catalog.{options.catalog.name}.uri"
    built.spark_config[key] = "jdbc:postgresql://evil/db"
    args = submit_args(built, options)
    assert f"{key}={options.catalog.uri}" in args
    assert not any("evil" in a for a in args)
