"""A task's rows leave in Arrow batches as its pages come, and its fetching waits for Spark: what
a task holds does not grow with its chains' pages. The task's iterator runs here, in process,
against our paged API; one test runs it under Spark's mapInArrow."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from datetime import date

import pyarrow as pa
import pytest
from paged_api import RunningApi, compile_plan, item, spec_text
from pyspark import Accumulator
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from runner.ingest.exceptions import HttpTerminalError
from runner.ingest.fetch import DEFAULT_MAX_RETRY_AFTER
from runner.ingest.inputs import RunInputs, chains
from runner.ingest.job import resolve_secrets
from runner.ingest.records import columns_of
from runner.ingest.spark_fetch import STATS, _fetch_partition, _Task, fetch_view
from uis_compiler.plan import SparkPlan

DAY = date(2024, 3, 1)
#: Records per page, and rows per batch: a batch is two pages.
PAGE = 5
BATCH = 2 * PAGE


def offset_plan(api: RunningApi, path: str, fan_out: list[str] | None = None) -> SparkPlan:
    endpoint = {
        "name": "items",
        "path": path,
        "pagination": "offset",
        "pagination_config": {"page_size": PAGE, "max_pages": 10_000},
        "response_path": "$.data",
        "field_mapping": {"id": "id", "name": "name"},
    }
    provider = {"config": {"fan_out": {"name": fan_out}}} if fan_out else None
    return compile_plan(spec_text(api.base_url, endpoint, provider))


def task_rows(
    spark: SparkSession, plan: SparkPlan, queued: int = 2
) -> tuple[Iterator[pa.RecordBatch], dict[str, Accumulator[float]]]:
    """The iterator a fetching task gives mapInArrow, for every chain of ``plan``."""
    secrets, _ = resolve_secrets(plan, None)
    columns = columns_of(plan.endpoints[0], [item(0)])
    payload = pickle.dumps(
        _Task(plan.model_dump_json(), 0, columns, secrets, {}, 1, "run-stream", None,
              DEFAULT_MAX_RETRY_AFTER)
    )  # fmt: skip
    accumulators = {name: spark.sparkContext.accumulator(0.0) for name in STATS}
    work = chains(plan, RunInputs.for_window(plan, "run-stream", logical_date=DAY))
    return _fetch_partition(payload, accumulators, iter(work), BATCH, queued), accumulators


def ids(batches: list[pa.RecordBatch]) -> list[int]:
    return [value for batch in batches for value in batch.column("id").to_pylist()]


def fetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "ingest-fetch"]


def test_the_first_batch_leaves_before_the_last_page_is_served(
    spark: SparkSession, api: RunningApi
) -> None:
    # Pages from the third on are held until the test releases them.
    plan = offset_plan(api, f"/held/30/{BATCH}")
    rows, accumulators = task_rows(spark, plan)
    # Released anyway after a while, so a task that holds its rows back fails, not hangs.
    timer = threading.Timer(20, api.api.release.set)
    timer.start()
    try:
        first = next(rows)
        assert api.api.held_served == 0
        assert first.num_rows == BATCH
        assert first.column("id").to_pylist() == list(range(BATCH))
    finally:
        api.api.release.set()
        timer.cancel()
    rest = list(rows)
    assert ids([first, *rest]) == list(range(30))
    assert [batch.num_rows for batch in rest] == [BATCH, BATCH]
    # Six full pages and an empty one ended the chain; counted once the task was done.
    assert accumulators["pages"].value == 7
    assert accumulators["records"].value == 30
    assert fetch_threads() == []


def test_fetching_waits_while_the_consumer_is_behind(spark: SparkSession, api: RunningApi) -> None:
    total = 400
    plan = offset_plan(api, f"/offset/{total}")
    rows, accumulators = task_rows(spark, plan, queued=2)
    first = next(rows)
    # Spark is busy with the first batch: the loop fills the queue's two places and one
    # more batch waits to be put, then the fetching waits. Eight pages of eighty-one.
    time.sleep(1.0)
    fetched = len(api.api.requests_to("/offset/"))
    assert 2 * 3 <= fetched <= 2 * 4 + 1
    time.sleep(0.5)
    assert len(api.api.requests_to("/offset/")) == fetched
    assert ids([first, *rows]) == list(range(total))
    assert accumulators["pages"].value == total // PAGE + 1
    assert accumulators["requests"].value == total // PAGE + 1


def test_a_failing_chain_fails_the_task_and_ends_its_loop(
    spark: SparkSession, api: RunningApi
) -> None:
    # Two chains at once; the second's source answers 404 on its first page.
    plan = offset_plan(api, "/{{ name }}/20", fan_out=["offset", "missing"])
    rows, accumulators = task_rows(spark, plan)
    with pytest.raises(HttpTerminalError, match=r"items: HTTP 404 from .*/missing/20"):
        list(rows)
    assert accumulators["pages"].value == 0
    # The error reached the consumer after the loop ended: nothing fetches on.
    assert fetch_threads() == []


def test_a_consumer_that_stops_early_stops_the_fetching(
    spark: SparkSession, api: RunningApi
) -> None:
    plan = offset_plan(api, "/offset/1000")
    rows, _ = task_rows(spark, plan)
    next(rows)
    rows.close()  # type: ignore[attr-defined]
    assert fetch_threads() == []
    fetched = len(api.api.requests_to("/offset/"))
    time.sleep(0.3)
    assert len(api.api.requests_to("/offset/")) == fetched < 1000 // PAGE


def test_many_pages_reach_a_spark_frame_in_whole_batches(
    spark: SparkSession, api: RunningApi
) -> None:
    # Past the 10,000 rows of a batch Spark gets: full batches leave while pages still come.
    total = 23_456
    plan = compile_plan(
        spec_text(
            api.base_url,
            {
                "name": "items",
                "path": f"/offset/{total}",
                "query_params": {"shard": "{{ shard }}"},
                "pagination": "offset",
                "pagination_config": {"page_size": 1000},
                "response_path": "$.data",
                "field_mapping": {"id": "id", "name": "name"},
            },
            {"config": {"fan_out": {"shard": ["a", "b"]}}},
        )
    )
    secrets, _ = resolve_secrets(plan, None)
    inputs = RunInputs.for_window(plan, "run-stream", logical_date=DAY)
    work = chains(plan, inputs)
    accumulators = {name: spark.sparkContext.accumulator(0.0) for name in STATS}
    frame = fetch_view(spark, plan, 0, work, [item(0)], secrets, accumulators, 2, inputs)
    found = frame.agg(
        F.count("*").alias("rows"), F.countDistinct("id").alias("ids"), F.sum("id").alias("sum")
    ).collect()[0]
    assert (found["rows"], found["ids"]) == (2 * total, total)
    assert found["sum"] == 2 * sum(range(total))
    assert accumulators["records"].value == 2 * total


#: What a task may hold in Arrow memory here: a few batches of ten rows (about 2 KB), less than
#: the pages of either chain below take when all are held (some 19 KB and 190 KB).
HELD_BOUND = 16 * 1024


@pytest.mark.parametrize("total", [500, 5000], ids=["100-pages", "1000-pages"])
def test_what_a_task_holds_does_not_grow_with_its_pages(
    spark: SparkSession, api: RunningApi, total: int
) -> None:
    rows, _ = task_rows(spark, offset_plan(api, f"/offset/{total}"))
    before = pa.total_allocated_bytes()
    held = taken = 0
    for batch in rows:
        taken += batch.num_rows
        del batch
        # Spark is slower than the fetching here: the queue stays full.
        time.sleep(0.002)
        held = max(held, pa.total_allocated_bytes() - before)
    assert taken == total
    assert held < HELD_BOUND
