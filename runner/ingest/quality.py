"""Quality checks on views before the commit: one aggregation per view, plus uniqueness.

A fetched view's row-level checks are counted while the view is fetched and cached (``observe``);
other views (transforms' outputs) take one aggregation pass each.

A check passes when the share of rows that satisfy it reaches its threshold (1.0 = all rows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from uis_compiler.columns import SQL_TYPES
from uis_compiler.plan import Check


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    kind: str
    view: str
    passed: bool
    observed: float | None
    threshold: float | None
    details: dict[str, Any] = field(default_factory=dict)


def _failing(check: Check) -> Column | None:
    """A condition true for rows that fail the check (None for whole-view checks)."""
    column = F.col(check.columns[0]) if check.columns else None
    if check.kind == "not_null" and column is not None:
        return column.isNull()
    if check.kind == "range" and column is not None:
        low = column < F.lit(check.min) if check.min is not None else F.lit(False)
        high = column > F.lit(check.max) if check.max is not None else F.lit(False)
        return column.isNotNull() & (low | high)
    if check.kind == "type" and column is not None and check.type is not None:
        # The value exists but does not read as the declared type.
        target = SQL_TYPES[check.type]
        return column.isNotNull() & F.expr(f"try_cast(`{check.columns[0]}` AS {target})").isNull()
    return None


def _aggregates(members: list[Check]) -> list[Column]:
    """The row count and, per row-level check, the count of rows that fail it."""
    aggregates = [F.count(F.lit(1)).alias("__total")]
    for index, check in enumerate(members):
        condition = _failing(check)
        if condition is not None:
            aggregates.append(F.sum(F.when(condition, 1).otherwise(0)).alias(f"__c{index}"))
    return aggregates


def observe(
    frame: DataFrame, view: str, checks: list[Check]
) -> tuple[DataFrame, Observation | None]:
    """``frame`` counting its view's row-level checks while it is computed (no pass of its own).

    Pass the observation to ``run`` once an action on the returned frame has finished.
    """
    members = [check for check in checks if check.view == view]
    if not members:
        return frame, None
    observation = Observation()
    return frame.observe(observation, *_aggregates(members)), observation


def run(
    spark: SparkSession, checks: list[Check], observed: Mapping[str, Observation] | None = None
) -> list[CheckResult]:
    """Every check's result: each view aggregated once, or counted already (``observe``)."""
    by_view: dict[str, list[Check]] = defaultdict(list)
    for check in checks:
        by_view[check.view].append(check)
    results: list[CheckResult] = []
    for view, members in by_view.items():
        frame = spark.table(view)
        row_checks = [(check, _failing(check)) for check in members]
        observation = (observed or {}).get(view)
        if observation is not None:
            counts = dict(observation.get)
        else:
            counts = frame.agg(*_aggregates(members)).collect()[0].asDict()
        total = int(counts["__total"])
        for index, (check, condition) in enumerate(row_checks):
            if check.kind == "non_empty":
                results.append(
                    CheckResult(check.name, check.kind, view, total > 0, float(total), 1.0)
                )
            elif check.kind == "unique":
                results.append(_unique(frame, check, view, total))
            elif condition is not None:
                failed = int(counts[f"__c{index}"] or 0)
                share = 1.0 if total == 0 else (total - failed) / total
                results.append(
                    CheckResult(
                        check.name, check.kind, view, share >= check.threshold, share,
                        check.threshold, {"failed_rows": failed, "rows": total},
                    )
                )  # fmt: skip
    return results


def _unique(frame: DataFrame, check: Check, view: str, total: int) -> CheckResult:
    duplicates = frame.groupBy(*check.columns).count().filter(F.col("count") > 1)
    groups = duplicates.count()
    extra = duplicates.agg(F.sum(F.col("count") - 1)).collect()[0][0] or 0 if groups else 0
    share = 1.0 if total == 0 else (total - int(extra)) / total
    return CheckResult(
        check.name, "unique", view, groups == 0, share, 1.0,
        {"duplicate_keys": groups, "duplicate_rows": int(extra), "columns": check.columns},
    )  # fmt: skip
