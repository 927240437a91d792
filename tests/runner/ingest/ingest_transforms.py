"""A python transform for the ingest job's tests: a DataFrame → DataFrame function.

The job calls it on the driver (``function(spark.table(view))``). It uses Spark's built-in
functions only, never a Python UDF, so executors (separate Python processes, without pytest's
sys.path) never need to import this module.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

#: The input columns of each call; filled in the process that calls the function.
CALLS: list[list[str]] = []


def even_labelled(frame: DataFrame) -> DataFrame:
    """Keep even ids and add `label` (name#id)."""
    CALLS.append(list(frame.columns))
    label = F.concat(F.col("name"), F.lit("#"), F.col("id").cast("string"))
    return frame.where(F.col("id") % 2 == 0).withColumn("label", label)
