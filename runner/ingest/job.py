"""One run of a Spark plan, in stages: prepare, fetch, transform, check, commit, lineage.

The same function runs in a warm in-process SparkSession (the worker's default) and under
spark-submit (headwater/ingest_main.py), so both give the same results. Whatever a run makes in
its session (cached frames, views, settings, its job group) is released when it ends, however
it ends: a long-lived warm session accumulates nothing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from py4j.protocol import Py4JJavaError
from pyspark import Accumulator
from pyspark.errors import PythonException
from pyspark.sql import DataFrame, Observation, SparkSession

from runner.ingest import commit, exceptions, iceberg, overwrite, parquet_sink, quality
from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import CanceledError, QualityFailedError
from runner.ingest.fetch import DEFAULT_MAX_RETRY_AFTER, FetchStats
from runner.ingest.inputs import Chain, RunInputs, chains
from runner.ingest.landing import LandingConfig
from runner.ingest.reporting import RedactingReporter, Reporter
from runner.ingest.secrets import Redactor, SecretValue, VaultConfig, resolve
from runner.ingest.spark_fetch import (
    STATS,
    FetchProgress,
    fetch_view,
    sample_records,
    stats_of,
    task_slots,
)
from runner.ingest.transforms import run_transforms
from uis_compiler.grants import DEFAULT_GRANTS, Grants
from uis_compiler.plan import SparkPlan

if TYPE_CHECKING:
    from runner.ingest.lineage import LineageConfig


@dataclass(frozen=True, slots=True)
class JobConfig:
    """Where the job writes and how it reaches secret stores."""

    catalog: str = "headwater"
    vault: VaultConfig | None = None
    #: What each tenant's secret references may read (checked again here, before resolving).
    grants: Grants = DEFAULT_GRANTS
    #: Land every fetched page, as fetched, in the object store (for replay).
    landing: LandingConfig | None = None
    #: Describe each run to DataHub (REST) or to a DataHub-readable JSON file.
    lineage: LineageConfig | None = None
    #: Fetching tasks per task slot (each task runs its own event loop). One runs them all at
    #: once, so each gets its whole share of the rate budget; more only adds per-task cost.
    tasks_per_slot: int = 1
    progress_interval_seconds: float = 1.0
    #: The longest wait a source's Retry-After gets (HEADWATER_FETCH_MAX_RETRY_AFTER_SECONDS).
    max_retry_after_seconds: float = DEFAULT_MAX_RETRY_AFTER


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


def resolve_secrets(
    plan: SparkPlan, vault: VaultConfig | None, grants: Grants = DEFAULT_GRANTS
) -> tuple[dict[str, SecretValue], Redactor]:
    """The plan's secret references resolved (inside the job only), and their redactor."""
    grant = grants.for_tenant(plan.spec.tenant_id)
    redactor = Redactor()
    resolved: dict[str, SecretValue] = {}
    for name, reference in plan.secrets.items():
        resolved[name] = resolve(reference, grant, vault=vault)
        redactor.add(resolved[name])
    return resolved, redactor


#: The line Python prints for one of our exceptions (the last such line is the one raised);
#: anchored at a line's start, so a source's text quoted inside a message cannot pose as one.
_RAISED = re.compile(r"^runner\.ingest\.exceptions\.(\w+): (.*)$", re.MULTILINE)


@contextlib.contextmanager
def _executor_errors(redact: Redactor, cancel: Cancellation) -> Iterator[None]:
    """Our exceptions raised on executors reach the driver wrapped by Spark: unwrap them.

    A Spark job that failed because the run was stopped (its job group canceled) is the stop.
    """
    # RDD actions raise Py4JJavaError; DataFrame actions over Python workers (mapInArrow)
    # raise PythonException.
    try:
        yield
    except (Py4JJavaError, PythonException) as exc:
        if cancel.requested:
            raise CanceledError(cancel.reason or "stopped") from None
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


#: JVM errors that say a platform service was out of reach, not that the run is wrong.
_UNREACHABLE = re.compile(
    r"java\.net\.(?:Connect|SocketTimeout|Socket|NoRouteToHost)Exception|Connection refused"
    r"|SQLTransientConnectionException|An I/O error occurred while sending to the backend"
    r"|This connection has been closed|SparkContext was shut down|ExecutorLostFailure"
)


#: Iceberg's optimistic concurrency refused the commit: another writer was first.
_CONFLICT = re.compile(
    r"org\.apache\.iceberg\.exceptions\.(?:CommitFailedException|ValidationException)"
)


@contextlib.contextmanager
def _unexpected(redact: Redactor, report: Reporter, cancel: Cancellation) -> Iterator[None]:
    """Anything but our own errors becomes one, redacted: the worker sees IngestErrors only."""
    try:
        yield
    except exceptions.IngestError:
        raise
    except Exception as exc:
        if cancel.requested:
            raise CanceledError(cancel.reason or "stopped") from None
        text = redact(f"{type(exc).__name__}: {exc}")
        # The whole text (a JVM stack trace, often) helps whoever reads the run's log; the
        # error keeps its first lines.
        report.log("ERROR", text[:20_000])
        head = [line for line in text.splitlines() if line.strip() and not line.startswith("\t")]
        message = " ".join(head[:4])[:1000]
        kind: type[exceptions.IngestError] = exceptions.UnexpectedError
        if _UNREACHABLE.search(text):
            kind = exceptions.PlatformUnavailableError
        elif _CONFLICT.search(text):
            kind = exceptions.CommitConflictError
        raise kind(message) from None


class _Run:
    """One run's state across its stages; ``release`` frees what they made in the session."""

    def __init__(
        self,
        spark: SparkSession,
        plan: SparkPlan,
        inputs: RunInputs,
        reporter: Reporter,
        config: JobConfig,
        cancel: Cancellation,
    ) -> None:
        self.spark = spark
        self.plan = plan
        self.inputs = inputs
        self.reporter = reporter
        self.config = config
        self.cancel = cancel
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC)
        self.redact = Redactor()
        self.report: Reporter = RedactingReporter(reporter, self.redact)
        self.secrets: dict[str, SecretValue] = {}
        self.work: list[Chain] = []
        self.group = f"headwater-run-{inputs.run_id}"
        self.accumulators: dict[str, Accumulator[float]] = {}
        self.frames: list[DataFrame] = []
        self.views: list[str] = []
        self.observations: dict[str, Observation] = {}
        self.settings_before: dict[str, str | None] = {}
        #: What the run's tenant may use (secrets, modules, file roots), by the run's plan.
        self.grant = config.grants.for_tenant(plan.spec.tenant_id)

    def prepare(self) -> None:
        """Secrets, request chains, the run's job group and the spec's Spark settings."""
        self.secrets, self.redact = resolve_secrets(
            self.plan, self.config.vault, self.config.grants
        )
        # Refused before anything is fetched: a folder outside the tenant's roots.
        # And an overwrite that would replace more than the run's window.
        window = overwrite.RunWindow(
            self.inputs.start_date, self.inputs.end_date, overwrite.reads_window(self.plan)
        )
        for sink in self.plan.sinks:
            if sink.type == "parquet":
                parquet_sink.folder(sink, self.grant)
            if sink.type == "iceberg" and sink.write_mode == "overwrite_partitions":
                why = overwrite.refusal(f"{sink.namespace}.{sink.table}", sink.partition_by, window)
                if why is not None:
                    raise exceptions.TerminalError(why)
        self.report = RedactingReporter(self.reporter, self.redact)
        self.work = chains(self.plan, self.inputs)
        context = self.spark.sparkContext
        # Local properties follow the calling thread: the run's Spark jobs carry its group, so
        # a stop cancels exactly them.
        context.setJobGroup(self.group, f"Headwater run {self.inputs.run_id}", True)
        self.accumulators = {name: context.accumulator(0.0) for name in STATS}
        for key, value in self.plan.spark_config.items():
            if self.spark.conf.get(key, None) == value:
                continue
            if not self.spark.conf.isModifiable(key):
                self.report.log(
                    "WARNING",
                    f"spark_config `{key}` is fixed when a Spark session starts: it applies "
                    "to runs submitted with spark-submit, not in the warm session",
                )
                continue
            self.settings_before[key] = self.spark.conf.get(key, None)
            self.spark.conf.set(key, value)
        self.report.log("INFO", f"run {self.inputs.run_id}: {len(self.work)} request chain(s), "
                        f"window {self.inputs.start_date}..{self.inputs.end_date}")  # fmt: skip

    def fetch(self) -> int:
        """Each endpoint's records, fetched once and cached; returns the rows read."""
        context = self.spark.sparkContext
        # The session's default parallelism is set to its shuffle partitions, not its cores.
        slots = task_slots(context.master or "", context.defaultParallelism)
        workers = max(1, slots * self.config.tasks_per_slot)
        rows = 0
        with FetchProgress(self.report, self.accumulators, self.config.progress_interval_seconds):
            for index, endpoint in enumerate(self.plan.endpoints):
                mine = [chain for chain in self.work if chain.endpoint == index]
                sample = (
                    sample_records(
                        self.plan,
                        mine[0],
                        self.secrets,
                        self.redact,
                        self.cancel,
                        self.config.max_retry_after_seconds,
                    )
                    if mine
                    else []
                )
                frame = fetch_view(
                    self.spark,
                    self.plan,
                    index,
                    mine,
                    sample,
                    self.secrets,
                    self.accumulators,
                    workers,
                    self.inputs,
                    self.config.landing,
                    self.config.max_retry_after_seconds,
                )
                # The view's row checks are counted as its rows are fetched and cached.
                frame, observed = quality.observe(frame, endpoint.view, self.plan.quality.checks)
                if observed is not None:
                    self.observations[endpoint.view] = observed
                # Fetch once: every later step (checks, transforms, the write) reads the cache.
                cached = frame.cache()
                self.frames.append(cached)
                cached.createOrReplaceTempView(endpoint.view)
                self.views.append(endpoint.view)
                rows += cached.count()
        return rows

    def transform(self) -> None:
        self.views += run_transforms(self.spark, self.plan, self.inputs, self.grant)

    def check(self) -> list[quality.CheckResult]:
        checks = quality.run(self.spark, self.plan.quality.checks, self.observations)
        failed = [c for c in checks if not c.passed]
        for check in failed:
            self.report.log(
                "WARNING", f"quality check {check.name} failed: observed {check.observed}"
            )
        if failed and self.plan.quality.block_on_failure:
            raise QualityFailedError(
                f"{len(failed)} quality check(s) failed ({', '.join(c.name for c in failed)}); "
                "nothing was committed"
            )
        commit.check_sinks(self.spark, self.plan, self.report)
        return checks

    def commit(self) -> list[iceberg.Written]:
        """Every sink's commit; after a failed one, the run's earlier commits are undone."""
        written: list[iceberg.Written] = []
        try:
            # The errors are made ours first, so the one raised can say what stays committed.
            with (
                _unexpected(self.redact, self.report, self.cancel),
                _executor_errors(self.redact, self.cancel),
            ):
                return commit.commit_sinks(
                    self.spark,
                    self.plan,
                    self.inputs,
                    self.secrets,
                    self.config.catalog,
                    self.report,
                    self.cancel,
                    self.grant,
                    written,
                )
        except exceptions.IngestError as exc:
            raise commit.undo(self.spark, written, self.inputs.run_id, self.report, exc) from None

    def describe(self, written: list[iceberg.Written]) -> None:
        if self.config.lineage is not None:
            _lineage(
                self.spark,
                self.config.lineage,
                self.plan,
                self.inputs,
                written,
                self.started_at,
                self.redact,
                self.report,
            )

    def release(self) -> None:
        """Free the run's cache, views, settings and job group (the session lives on)."""
        for frame in self.frames:
            frame.unpersist()
        for view in reversed(self.views):
            self.spark.catalog.dropTempView(view)
        for key, value in self.settings_before.items():
            if value is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, value)
        context = self.spark.sparkContext
        for prop in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            context.setLocalProperty(prop, None)  # type: ignore[arg-type]


def run_plan(
    spark: SparkSession,
    plan: SparkPlan,
    inputs: RunInputs,
    reporter: Reporter,
    config: JobConfig | None = None,
    cancel: Cancellation | None = None,
) -> RunResult:
    """Run ``plan`` once for ``inputs``.

    Raises TerminalError or TransientError (nothing committed), or CanceledError when
    ``cancel`` stopped it (nothing left committed).
    """
    stop = cancel or Cancellation()
    run = _Run(spark, plan, inputs, reporter, config or JobConfig(), stop)
    try:
        reporter.stage("prepare")
        with _unexpected(run.redact, run.report, stop):
            run.prepare()
        with (
            _unexpected(run.redact, run.report, stop),
            _executor_errors(run.redact, stop),
            stop.on_cancel(lambda: spark.sparkContext.cancelJobGroup(run.group)),
        ):
            stop.check()
            reporter.stage("fetch")
            rows_read = run.fetch()
            stop.check()
            reporter.stage("transform")
            run.transform()
            reporter.stage("check")
            checks = run.check()
            reporter.stage("commit")
            written = run.commit()
            reporter.stage("lineage")
            run.describe(written)
    finally:
        run.release()
    return RunResult(
        inputs.run_id,
        stats_of(run.accumulators),
        rows_read,
        written,
        checks,
        time.perf_counter() - run.started,
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
