"""Transforms over named views: Spark SQL with the run's values bound, or a Python function."""

from __future__ import annotations

import importlib

from pyspark.sql import SparkSession

from runner.ingest.exceptions import RefusedError
from runner.ingest.inputs import RunInputs
from uis_compiler.grants import TenantGrant
from uis_compiler.plan import SparkPlan


def run_transforms(
    spark: SparkSession, plan: SparkPlan, inputs: RunInputs, grant: TenantGrant
) -> list[str]:
    """Each transform's result as a view named after it; returns every view it made.

    Raises RefusedError for a Python transform whose module ``grant`` does not list.
    """
    # SQL reads run values as named parameters (`:run_id`): bound, never spliced into the text.
    args = inputs.variables()
    made: list[str] = []
    last = plan.endpoints[-1].view if plan.endpoints else None
    for transform in plan.transforms:
        for alias, view in transform.views.items():
            spark.table(view).createOrReplaceTempView(alias)
            made.append(alias)
        if transform.type == "sql":
            used = {k: v for k, v in args.items() if f":{k}" in (transform.sql or "")}
            result = spark.sql(transform.sql or "", args=used)
        else:
            # Checked before the import: importing runs the module's code.
            why = grant.python_refusal(transform.module or "")
            if why is not None:
                raise RefusedError(f"transform {transform.name}: {why}")
            module = importlib.import_module(transform.module or "")
            function = getattr(module, transform.function or "")
            source = next(iter(transform.views.values()), last)
            result = function(spark.table(source or ""))
        result.createOrReplaceTempView(transform.name)
        made.append(transform.name)
        last = transform.name
    return made
