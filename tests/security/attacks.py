"""Shared pieces of the attack suite: a canary secret, a run of a plan, what a run left behind."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import date

import pytest
from pyspark.sql import SparkSession

from runner.ingest.exceptions import IngestError, RefusedError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter
from uis_compiler.plan import SparkPlan

#: A value no test writes anywhere on purpose: finding it in a text is a leak.
CANARY = f"canary-{uuid.uuid4().hex}"
DAY = date(2024, 3, 1)


@dataclass
class Attempt:
    """One run of an attacking plan: its result or its error, and every line it reported."""

    result: RunResult | None
    error: IngestError | None
    log: str
    texts: list[str] = field(default_factory=list)

    def leaked(self, value: str = CANARY) -> list[str]:
        """The texts (error, log lines) that contain ``value``, cut short."""
        return [
            text[:200] for text in [self.log, str(self.error or ""), *self.texts] if value in text
        ]


def attempt(
    spark: SparkSession,
    plan: SparkPlan,
    config: JobConfig | None = None,
    parameters: dict[str, str] | None = None,
) -> Attempt:
    """Run ``plan`` once in the warm session, keeping what it reported."""
    stream = io.StringIO()
    inputs = RunInputs.for_window(
        plan, f"attack-{uuid.uuid4().hex[:8]}", logical_date=DAY, parameters=parameters
    )
    try:
        result = run_plan(spark, plan, inputs, PrintReporter(stream), config or JobConfig())
    except IngestError as exc:
        return Attempt(None, exc, stream.getvalue())
    return Attempt(result, None, stream.getvalue())


def refused(outcome: Attempt, fragment: str) -> str:
    """The refusal's message, after checking the run was refused for ``fragment``."""
    if not isinstance(outcome.error, RefusedError):
        pytest.fail(f"the attack was not refused: {outcome.error!r}\n{outcome.log}")
    message = str(outcome.error)
    assert fragment in message, message
    return message
