"""Fetching on Spark executors: an endpoint's request chains become a DataFrame of Arrow batches.

The driver samples one page (the types of untyped columns come from it), pickles what the
executors need, and maps chain indexes to rows with mapInArrow; each task fetches its chains
concurrently on its own event loop, and its rows leave in Arrow batches as pages come
(runner.ingest.batch_queue). Accumulators carry the fetch statistics back, and
``FetchProgress`` reports them while tasks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pickle
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pyarrow as pa
from pyspark import Accumulator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from runner.ingest import batch_queue
from runner.ingest.batch_queue import Put
from runner.ingest.cancellation import Cancellation
from runner.ingest.fetch import DEFAULT_MAX_RETRY_AFTER, Fetcher, FetchStats
from runner.ingest.inputs import Chain, RunInputs
from runner.ingest.landing import BackgroundLanding, Lander, LandingConfig, chain_key
from runner.ingest.ratelimit import buckets
from runner.ingest.records import RecordBatches, columns_of
from runner.ingest.reporting import Reporter
from runner.ingest.secrets import Redactor, SecretValue
from runner.ingest.templates import Filler
from uis_compiler.plan import Column, SparkPlan

SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
}
STATS = ("requests", "pages", "retries", "bytes", "records", "rate_limit_wait_seconds")
#: Rows per Arrow batch handed to Spark (Spark's own default for Arrow batches).
_BATCH_ROWS = 10_000
#: Batches a task's fetching may run ahead of Spark: one in Spark's hands and two waiting keep
#: the fetching busy, and bound what a task holds to a few batches.
_QUEUED_BATCHES = 2


@dataclass(frozen=True)
class _Task:
    """What every fetching task of one endpoint needs (pickled to the executors)."""

    plan_json: str
    endpoint: int
    columns: list[Column]
    secrets: dict[str, SecretValue]
    rates: dict[str, float]
    workers: int
    run_id: str
    landing: LandingConfig | None
    max_retry_after: float


def _filler(secrets: dict[str, SecretValue]) -> Any:
    return lambda chain: Filler(chain.variables, secrets)


async def _sample(
    plan: SparkPlan,
    chain: Chain,
    secrets: dict[str, SecretValue],
    redact: Redactor,
    max_retry_after: float,
) -> list[Any]:
    """The first page's records of one chain: the types of untyped columns come from them."""
    fetcher = Fetcher(plan, _filler(secrets), redact, {}, max_retry_after=max_retry_after)
    async with httpx.AsyncClient() as client:
        async for page in fetcher.pages(client, chain):
            return page.records[:200]
    return []


def sample_records(
    plan: SparkPlan,
    chain: Chain,
    secrets: dict[str, SecretValue],
    redact: Redactor,
    cancel: Cancellation,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
) -> list[Any]:
    """The first page's records of ``chain``, fetched on the driver; a stop interrupts it."""

    async def until_done_or_stopped() -> list[Any]:
        fetching = asyncio.ensure_future(_sample(plan, chain, secrets, redact, max_retry_after))
        # A slow or rate-limited source can hold the first page for long: look for a stop
        # while waiting, as the executors' tasks are stopped by their job group.
        while not fetching.done():
            await asyncio.wait({fetching}, timeout=0.1)
            if cancel.requested and not fetching.done():
                fetching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetching
                cancel.check()
        return fetching.result()

    return asyncio.run(until_done_or_stopped())


def _fetch_partition(
    payload: bytes,
    accumulators: dict[str, Accumulator[float]],
    chains_in: Iterator[Chain],
    batch_rows: int = _BATCH_ROWS,
    queued: int = _QUEUED_BATCHES,
) -> Iterator[pa.RecordBatch]:
    """Runs on an executor: fetch this partition's chains concurrently, yield mapped rows.

    Rows leave in batches of ``batch_rows`` as pages come (the rest at the end); the fetching
    waits while ``queued`` batches wait for Spark, so a task's memory does not grow with its
    chains' pages.
    """
    task: _Task = pickle.loads(payload)
    plan = SparkPlan.model_validate_json(task.plan_json)
    redact = Redactor()
    for value in task.secrets.values():
        redact.add(value)
    fetcher = Fetcher(
        plan,
        _filler(task.secrets),
        redact,
        buckets(task.rates, task.workers),
        max_retry_after=task.max_retry_after,
    )
    assert plan.http is not None
    limit = asyncio.Semaphore(plan.http.concurrent_requests)
    out = RecordBatches(task.columns)

    endpoint = plan.endpoints[task.endpoint]
    lander = Lander(task.landing, redact) if task.landing is not None else None
    # Read here, on the thread Spark feeds: the fetch loop runs on a thread of its own.
    work = list(chains_in)

    async def chain_rows(
        client: httpx.AsyncClient, chain: Chain, landing: BackgroundLanding | None, put: Put
    ) -> None:
        key = chain_key(chain.variables, endpoint.fan_out)
        async with limit:
            async for page in fetcher.pages(client, chain):
                if landing is not None:
                    await landing.put_page(
                        plan.spec.provider,
                        task.run_id,
                        endpoint.name,
                        key,
                        page.number,
                        page.body,
                        page.url,
                    )
                out.add(page.records, chain.variables)
                for batch in out.full(batch_rows):
                    await put(batch)

    async def run_all(put: Put) -> None:
        size = plan.http.concurrent_requests  # type: ignore[union-attr]
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        landing = lander.background() if lander is not None else contextlib.nullcontext()
        async with httpx.AsyncClient(limits=limits) as client, landing as pages_out:
            running = [
                asyncio.ensure_future(chain_rows(client, chain, pages_out, put)) for chain in work
            ]
            try:
                await asyncio.gather(*running)
            finally:
                # The first failure ends the task: its other chains stop fetching now.
                for chain_task in running:
                    chain_task.cancel()
        for batch in out.batches(batch_rows):
            await put(batch)

    yield from batch_queue.batches(run_all, queued)
    # Only a task that fetched everything counts (a failed task's updates are dropped anyway).
    for name in STATS:
        accumulators[name].add(float(getattr(fetcher.stats, name)))


def _fetch_chains(
    payload: bytes,
    accumulators: dict[str, Accumulator[float]],
    work: list[Chain],
    ids: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """mapInArrow's function: the partition's ids are indexes into ``work``."""
    indexes = (cast("list[int]", batch.column(0).to_pylist()) for batch in ids)
    return _fetch_partition(payload, accumulators, (work[i] for some in indexes for i in some))


_LOCAL = re.compile(r"local(?:\[(\*|\d+)(?:,\d+)?\])?")


def task_slots(master: str, default_parallelism: int) -> int:
    """How many tasks run at once: local[N] runs N, local[*] one per CPU."""
    local = _LOCAL.fullmatch(master)
    if local is None:
        # On a cluster, spark.default.parallelism (the session sets it) stands for its slots.
        return default_parallelism
    threads = local.group(1) or "1"
    if threads != "*":
        return int(threads)
    # The CPUs this process may use, as the JVM counts them for local[*].
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def stats_of(accumulators: dict[str, Accumulator[float]]) -> FetchStats:
    values = {name: accumulators[name].value for name in STATS}
    counts = {
        name: int(value) for name, value in values.items() if name != "rate_limit_wait_seconds"
    }
    return FetchStats(**counts, rate_limit_wait_seconds=values["rate_limit_wait_seconds"])


def _schema(columns: list[Column]) -> T.StructType:
    return T.StructType(
        [T.StructField(c.name, SPARK_TYPES[c.type or "string"], nullable=True) for c in columns]
    )


class FetchProgress:
    """Reports the accumulators' totals every interval while tasks run."""

    def __init__(
        self, reporter: Reporter, accumulators: dict[str, Accumulator[float]], interval: float
    ) -> None:
        self.reporter = reporter
        self.accumulators = accumulators
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-progress", daemon=True)

    def __enter__(self) -> FetchProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.report()

    def report(self) -> None:
        self.reporter.progress({name: acc.value for name, acc in self.accumulators.items()})

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()


def fetch_view(
    spark: SparkSession,
    plan: SparkPlan,
    endpoint_index: int,
    work: list[Chain],
    sample: list[Any],
    secrets: dict[str, SecretValue],
    accumulators: dict[str, Accumulator[float]],
    workers: int,
    inputs: RunInputs,
    landing: LandingConfig | None = None,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
) -> DataFrame:
    """One endpoint's records as a DataFrame, fetched by executors when an action needs them.

    ``sample`` is a first page's records (see ``sample_records``): untyped columns take their
    types from it.
    """
    endpoint = plan.endpoints[endpoint_index]
    columns = columns_of(endpoint, sample)
    payload = pickle.dumps(
        _Task(
            plan.model_dump_json(),
            endpoint_index,
            columns,
            secrets,
            plan.rate_limits,
            workers,
            inputs.run_id,
            landing,
            max_retry_after,
        )
    )
    partitions = max(1, min(len(work), workers))
    # Rows reach Spark as Arrow batches: unpickling one Python tuple per row cost more than
    # fetching it (README, "Ingest throughput").
    return spark.range(len(work), numPartitions=partitions).mapInArrow(
        functools.partial(_fetch_chains, payload, accumulators, work), _schema(columns)
    )
