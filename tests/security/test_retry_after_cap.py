"""A hostile source cannot stall a run with Retry-After: a 429 asking for days (in seconds or as an
HTTP date years ahead) is waited no longer than the platform's cap (JobConfig's
max_retry_after_seconds, HEADWATER_FETCH_MAX_RETRY_AFTER_SECONDS)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from attacks import attempt
from paged_api import RunningApi, Scripted, compile_plan, item, spec_text
from pyspark.sql import SparkSession

from runner.ingest.exceptions import HttpTransientError
from runner.ingest.job import JobConfig
from uis_compiler.compilers.options import CompileOptions, SparkOptions
from uis_compiler.plan import SparkPlan

CAP = 1.0
#: Far more than a capped run needs (a warm session's run takes a few seconds), far less than
#: one honoured Retry-After.
BOUND = 60.0
FOREVER = "999999"


def _years_ahead() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(days=3 * 365), usegmt=True)


def _plan(source: RunningApi, attempts: int) -> SparkPlan:
    endpoint = {
        "name": "items",
        "path": "/script/stall",
        "response_path": "$.data",
        "field_mapping": {"id": "id", "name": "name"},
    }
    # A small backoff: the jitter it draws stays well under the cap.
    options = SparkOptions(
        request_attempts=attempts, request_backoff_seconds=0.05, request_max_backoff_seconds=0.1
    )
    return compile_plan(spec_text(source.base_url, endpoint), CompileOptions(spark=options))


def test_a_retry_after_of_days_waits_only_the_cap(spark: SparkSession, source: RunningApi) -> None:
    page = Scripted(200, body=json.dumps({"data": [item(7)]}).encode())
    # The driver's sample meets the first 429, the executor's task the second.
    source.api.script(
        "stall",
        Scripted(429, {"Retry-After": FOREVER}),
        page,
        Scripted(429, {"Retry-After": _years_ahead()}),
        page,
    )
    started = time.monotonic()
    outcome = attempt(spark, _plan(source, attempts=3), JobConfig(max_retry_after_seconds=CAP))
    elapsed = time.monotonic() - started
    assert outcome.error is None, outcome.log
    assert outcome.result is not None
    assert outcome.result.rows_read == 1
    assert elapsed < BOUND
    # The task waited once, for the cap: what the source asked for was honoured up to it.
    assert outcome.result.stats.rate_limit_wait_seconds == pytest.approx(CAP)
    assert outcome.result.stats.retries == 1


def test_a_source_that_always_asks_for_days_fails_the_run_as_transient_soon(
    spark: SparkSession, source: RunningApi
) -> None:
    source.api.script("stall", *[Scripted(429, {"Retry-After": FOREVER}) for _ in range(5)])
    started = time.monotonic()
    outcome = attempt(spark, _plan(source, attempts=3), JobConfig(max_retry_after_seconds=CAP))
    elapsed = time.monotonic() - started
    assert isinstance(outcome.error, HttpTransientError), outcome.log
    assert outcome.error.status == 429
    assert "HTTP 429 from" in str(outcome.error)
    assert "gave up after 3 attempts" in str(outcome.error)
    # Three attempts, two capped waits between them.
    assert len(source.api.requests_to("/script/stall")) == 3
    assert 2 * CAP <= elapsed < BOUND
