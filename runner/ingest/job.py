"""One run of a Spark plan: fetch on executors, map, transform, check, commit, report.

The same function runs in a warm in-process SparkSession (the default) and under spark-submit
(runner/ingest/main.py), so both give the same results.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import pickle
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import httpx
import pyarrow as pa
from py4j.protocol import Py4JJavaError
from pyspark import Accumulator
from pyspark.errors import PythonException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import types as T

from runner.ingest import exceptions, iceberg, parquet_sink, postgres_sink, quality
from runner.ingest.exceptions import QualityFailedError, SchemaDriftError, TerminalError
from runner.ingest.fetch import Fetcher, FetchStats
from runner.ingest.inputs import Chain, RunInputs, chains
from runner.ingest.landing import BackgroundLanding, Lander, LandingConfig, chain_key
from runner.ingest.ratelimit import buckets
from runner.ingest.records import RecordBatches, columns_of
from runner.ingest.reporting import RedactingReporter, Reporter
from runner.ingest.secrets import Redactor, SecretValue, VaultConfig, resolve
from runner.ingest.templates import Filler
from uis_compiler.plan import Column, SparkPlan

if TYPE_CHECKING:
    from runner.ingest.lineage import LineageConfig

SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
}
#: The sink types the job writes.
_WRITERS = ("iceberg", "parquet", "postgres")
_STATS = ("requests", "pages", "retries", "bytes", "records", "rate_limit_wait_seconds")
#: Rows per Arrow batch handed to Spark (Spark's own default for Arrow batches).
_BATCH_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class JobConfig:
    """Where the job writes and how it reaches secret stores."""

    catalog: str = "headwater"
    vault: VaultConfig | None = None
    #: Land every fetched page, as fetched, in the object store (for replay).
    landing: LandingConfig | None = None
    #: Describe each run to DataHub (REST) or to a DataHub-readable JSON file.
    lineage: LineageConfig | None = None
    #: Fetching tasks per task slot (each task runs its own event loop). One runs them all at
    #: once, so each gets its whole share of the rate budget; more only adds per-task cost.
    tasks_per_slot: int = 1
    progress_interval_seconds: float = 1.0


@dataclass
class RunResult:
    """What a run did."""

    run_id: str
    stats: FetchStats
    rows_read: int
    written: list[iceberg.Written] = field(default_factory=list)
    checks: list[quality.CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_written(self) -> int:
        return sum(w.rows for w in self.written)

    @property
    def snapshot_id(self) -> int | None:
        return self.written[-1].snapshot_id if self.written else None


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


def resolve_secrets(
    plan: SparkPlan, vault: VaultConfig | None
) -> tuple[dict[str, SecretValue], Redactor]:
    """The plan's secret references resolved (inside the job only), and their redactor."""
    redactor = Redactor()
    resolved: dict[str, SecretValue] = {}
    for name, reference in plan.secrets.items():
        resolved[name] = resolve(reference, vault=vault)
        redactor.add(resolved[name])
    return resolved, redactor


def _filler(secrets: dict[str, SecretValue]) -> Any:
    return lambda chain: Filler(chain.variables, secrets)


async def _sample(
    plan: SparkPlan, chain: Chain, secrets: dict[str, SecretValue], redact: Redactor
) -> list[Any]:
    """The first page's records of one chain: the types of untyped columns come from them."""
    fetcher = Fetcher(plan, _filler(secrets), redact, {})
    async with httpx.AsyncClient() as client:
        async for page in fetcher.pages(client, chain):
            return page.records[:200]
    return []


def _fetch_partition(
    payload: bytes, accumulators: dict[str, Accumulator[float]], chains_in: Iterator[Chain]
) -> Iterator[pa.RecordBatch]:
    """Runs on an executor: fetch this partition's chains concurrently, yield mapped rows."""
    task: _Task = pickle.loads(payload)
    plan = SparkPlan.model_validate_json(task.plan_json)
    redact = Redactor()
    for value in task.secrets.values():
        redact.add(value)
    fetcher = Fetcher(plan, _filler(task.secrets), redact, buckets(task.rates, task.workers))
    assert plan.http is not None
    limit = asyncio.Semaphore(plan.http.concurrent_requests)
    out = RecordBatches(task.columns)

    endpoint = plan.endpoints[task.endpoint]
    lander = Lander(task.landing, redact) if task.landing is not None else None

    async def chain_rows(
        client: httpx.AsyncClient, chain: Chain, landing: BackgroundLanding | None
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

    async def run_all(work: list[Chain]) -> None:
        size = plan.http.concurrent_requests  # type: ignore[union-attr]
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        landing = lander.background() if lander is not None else contextlib.nullcontext()
        async with httpx.AsyncClient(limits=limits) as client, landing as pages_out:
            await asyncio.gather(*(chain_rows(client, chain, pages_out) for chain in work))

    asyncio.run(run_all(list(chains_in)))
    for name in _STATS:
        accumulators[name].add(float(getattr(fetcher.stats, name)))
    return out.batches(_BATCH_ROWS)


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


def _stats(accumulators: dict[str, Accumulator[float]]) -> FetchStats:
    values = {name: accumulators[name].value for name in _STATS}
    counts = {
        name: int(value) for name, value in values.items() if name != "rate_limit_wait_seconds"
    }
    return FetchStats(**counts, rate_limit_wait_seconds=values["rate_limit_wait_seconds"])


def _schema(columns: list[Column]) -> T.StructType:
    return T.StructType(
        [T.StructField(c.name, SPARK_TYPES[c.type or "string"], nullable=True) for c in columns]
    )


class _Progress:
    """Reports the accumulators' totals every interval while tasks run."""

    def __init__(
        self, reporter: Reporter, accumulators: dict[str, Accumulator[float]], interval: float
    ) -> None:
        self.reporter = reporter
        self.accumulators = accumulators
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-progress", daemon=True)

    def __enter__(self) -> _Progress:
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
    secrets: dict[str, SecretValue],
    redact: Redactor,
    accumulators: dict[str, Accumulator[float]],
    workers: int,
    inputs: RunInputs,
    landing: LandingConfig | None = None,
) -> DataFrame:
    """One endpoint's records as a DataFrame, fetched by executors when an action needs them."""
    endpoint = plan.endpoints[endpoint_index]
    sample = asyncio.run(_sample(plan, work[0], secrets, redact)) if work else []
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
        )
    )
    partitions = max(1, min(len(work), workers))
    # Rows reach Spark as Arrow batches: unpickling one Python tuple per row cost more than
    # fetching it (README, "Ingest throughput").
    return spark.range(len(work), numPartitions=partitions).mapInArrow(
        functools.partial(_fetch_chains, payload, accumulators, work), _schema(columns)
    )


def _transform(spark: SparkSession, plan: SparkPlan, inputs: RunInputs) -> None:
    args = {
        "run_id": inputs.run_id,
        "logical_date": inputs.logical_date.isoformat(),
        "start_date": inputs.start_date.isoformat(),
        "end_date": inputs.end_date.isoformat(),
        **inputs.parameters,
    }
    last = plan.endpoints[-1].view if plan.endpoints else None
    for transform in plan.transforms:
        for alias, view in transform.views.items():
            spark.table(view).createOrReplaceTempView(alias)
        if transform.type == "sql":
            used = {k: v for k, v in args.items() if f":{k}" in (transform.sql or "")}
            result = spark.sql(transform.sql or "", args=used)
        else:
            module = importlib.import_module(transform.module or "")
            function = getattr(module, transform.function or "")
            source = next(iter(transform.views.values()), last)
            result = function(spark.table(source or ""))
        result.createOrReplaceTempView(transform.name)
        last = transform.name


_RAISED = re.compile(r"runner\.ingest\.exceptions\.(\w+): (.*)")


@contextlib.contextmanager
def _executor_errors(redact: Redactor) -> Iterator[None]:
    """Our exceptions raised on executors reach the driver wrapped by Spark: unwrap them."""
    # RDD actions raise Py4JJavaError; DataFrame actions over Python workers (mapInArrow)
    # raise PythonException.
    try:
        yield
    except (Py4JJavaError, PythonException) as exc:
        found = _RAISED.findall(str(exc))
        if not found:
            raise
        name, message = found[-1]
        kind = getattr(exceptions, name, None)
        if not (isinstance(kind, type) and issubclass(kind, exceptions.IngestError)):
            raise
        status = re.search(r"HTTP (\d{3})", message)
        if issubclass(kind, exceptions.HttpTransientError | exceptions.HttpTerminalError):
            raise kind(redact(message), int(status.group(1)) if status else None) from None
        raise kind(redact(message)) from None


def run_plan(
    spark: SparkSession,
    plan: SparkPlan,
    inputs: RunInputs,
    reporter: Reporter,
    config: JobConfig | None = None,
) -> RunResult:
    """Run ``plan`` once for ``inputs``; raises TerminalError/TransientError (nothing committed)."""
    config = config or JobConfig()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    secrets, redact = resolve_secrets(plan, config.vault)
    report = RedactingReporter(reporter, redact)
    work = chains(plan, inputs)
    report.log("INFO", f"run {inputs.run_id}: {len(work)} request chain(s), window "
                f"{inputs.start_date}..{inputs.end_date}")  # fmt: skip
    # The session's default parallelism is set to its shuffle partitions, not its cores.
    slots = task_slots(spark.sparkContext.master or "", spark.sparkContext.defaultParallelism)
    workers = max(1, slots * config.tasks_per_slot)
    accumulators = {name: spark.sparkContext.accumulator(0.0) for name in _STATS}
    frames: dict[str, DataFrame] = {}
    observations: dict[str, Observation] = {}
    rows_read = 0
    with (
        _Progress(report, accumulators, config.progress_interval_seconds),
        _executor_errors(redact),
    ):
        for index, endpoint in enumerate(plan.endpoints):
            mine = [chain for chain in work if chain.endpoint == index]
            frame = fetch_view(
                spark,
                plan,
                index,
                mine,
                secrets,
                redact,
                accumulators,
                workers,
                inputs,
                config.landing,
            )
            # The view's row checks are counted as its rows are fetched and cached.
            frame, observed = quality.observe(frame, endpoint.view, plan.quality.checks)
            if observed is not None:
                observations[endpoint.view] = observed
            # Fetch once: every later step (checks, transforms, the write) reads the cache.
            frames[endpoint.view] = frame.cache()
            frames[endpoint.view].createOrReplaceTempView(endpoint.view)
            rows_read += frames[endpoint.view].count()
    stats = _stats(accumulators)
    _transform(spark, plan, inputs)
    checks = quality.run(spark, plan.quality.checks, observations)
    failed = [c for c in checks if not c.passed]
    for check in failed:
        report.log("WARNING", f"quality check {check.name} failed: observed {check.observed}")
    if failed and plan.quality.block_on_failure:
        raise QualityFailedError(
            f"{len(failed)} quality check(s) failed ({', '.join(c.name for c in failed)}); "
            "nothing was committed"
        )
    block_drift = plan.contract.block_on_schema_drift if plan.contract else True
    declared = dict(plan.contract.columns) if plan.contract else {}
    for sink in plan.sinks:
        if sink.type not in _WRITERS:
            raise TerminalError(f"the Spark job does not write `{sink.type}` sinks")
        # Checked for every sink before the first commit, so a blocked run commits nothing.
        drift = iceberg.contract_drift(spark.table(sink.view), declared)
        if drift and block_drift:
            raise SchemaDriftError(
                f"{sink.view}: the rows differ from schema_contract ({'; '.join(drift)}) and "
                "block_on_schema_drift is on"
            )
        for change in drift:
            report.log("WARNING", f"{sink.view}: schema drift from the contract: {change}")
    written = []
    for sink in plan.sinks:
        frame = spark.table(sink.view)
        if sink.type == "iceberg":
            result = iceberg.write(spark, frame, sink, config.catalog, block_on_drift=block_drift)
        elif sink.type == "parquet":
            result = parquet_sink.write(frame, sink)
        else:
            result = postgres_sink.write(frame, sink, secrets)
        where = result.table if sink.type == "iceberg" else f"{sink.type} {result.table}"
        snapshot = f", snapshot {result.snapshot_id}" if result.snapshot_id is not None else ""
        report.log("INFO", f"committed {result.rows} row(s) to {where}{snapshot}")
        written.append(result)
    for frame in frames.values():
        frame.unpersist()
    if config.lineage is not None:
        _lineage(spark, config.lineage, plan, inputs, written, started_at, redact, report)
    return RunResult(
        inputs.run_id, stats, rows_read, written, checks, time.perf_counter() - started
    )


def _lineage(
    spark: SparkSession,
    config: LineageConfig,
    plan: SparkPlan,
    inputs: RunInputs,
    written: list[iceberg.Written],
    started_at: datetime,
    redact: Redactor,
    report: Reporter,
) -> None:
    """Describe the committed run to DataHub; a failure is reported, the data stays committed."""
    # Imported here, on the driver only: DataHub's package is large, executors never need it.
    from runner.ingest import lineage

    tables = []
    for sink, result in zip(plan.sinks, written, strict=True):
        if result.platform == "iceberg":
            # The table's own schema: it may hold columns this run's rows lack.
            table = lineage.OutputTable.of(
                result.table, spark.table(result.table).schema, result.snapshot_id
            )
        else:
            schema = spark.table(sink.view).schema
            table = lineage.OutputTable(result.table, schema, platform=result.platform, sink=sink)
        tables.append(table)
    facts = lineage.RunFacts(
        inputs.run_id,
        started_at,
        datetime.now(UTC),
        properties={
            "window": f"{inputs.start_date}..{inputs.end_date}",
            "rows_written": str(sum(w.rows for w in written)),
        },
    )
    try:
        lineage.emit_run_lineage(config, plan, tables, facts, redact)
    except lineage.LineageError as exc:
        report.log("WARNING", f"lineage not delivered: {exc}")
