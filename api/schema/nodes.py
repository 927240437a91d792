"""The node types of the graph (providers, spec versions, runs), which refer to one another."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.exceptions import InvalidInputError
from api.models import (
    EventKind,
    LogLevel,
    Provider,
    ProviderStatus,
    Run,
    RunStatus,
    RunTrigger,
    SpecVersion,
)
from api.schema.context import Info
from api.schema.pagination import page_size
from api.schema.scalars import ZERO, Long

RunStatusEnum = strawberry.enum(RunStatus, name="RunStatus")
RunTriggerEnum = strawberry.enum(RunTrigger, name="RunTrigger")
EventKindEnum = strawberry.enum(EventKind, name="EventKind")
LogLevelEnum = strawberry.enum(LogLevel, name="LogLevel")


ProviderStatusEnum = strawberry.enum(ProviderStatus, name="ProviderStatus")


@strawberry.type
class RunMetrics:
    rows_read: Long
    rows_written: Long
    bytes: Long
    pages: Long
    requests: Long
    retries: Long


@strawberry.type
class RunEventNode:
    seq: Long
    at: datetime
    kind: EventKindEnum  # type: ignore[valid-type]
    level: LogLevelEnum  # type: ignore[valid-type]
    message: str
    payload: JSON | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> RunEventNode:
        return cls(
            seq=Long(int(row["seq"])),
            at=row["at"],
            kind=EventKind(row["kind"]),
            level=LogLevel(row["level"]),
            message=row["message"],
            payload=row.get("payload"),
        )


@strawberry.type
class RunEventPage:
    events: list[RunEventNode]
    #: Pass as `after` for the next chunk.
    last_seq: Long
    has_more: bool


@strawberry.type
class QualityResultNode:
    name: str
    kind: str
    passed: bool
    observed: float | None
    threshold: float | None
    details: JSON | None


_HEAVY = ("parameters", "error_message")


@strawberry.type
class RunNode:
    """A run; list pages carry slim rows, heavy fields load on demand."""

    row: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row["id"]))

    @strawberry.field
    def status(self) -> RunStatusEnum:  # type: ignore[valid-type]
        return RunStatus(self.row["status"])

    @strawberry.field
    def trigger(self) -> RunTriggerEnum:  # type: ignore[valid-type]
        return RunTrigger(self.row["trigger"])

    @strawberry.field
    def attempt(self) -> int:
        return int(self.row["attempt"])

    @strawberry.field
    def tenant_id(self) -> str:
        return str(self.row["tenant_id"])

    @strawberry.field
    def window_start(self) -> date | None:
        return self.row["window_start"]  # type: ignore[no-any-return]

    @strawberry.field
    def window_end(self) -> date | None:
        return self.row["window_end"]  # type: ignore[no-any-return]

    @strawberry.field
    def logical_date(self) -> date | None:
        return self.row["logical_date"]  # type: ignore[no-any-return]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row["created_at"]  # type: ignore[no-any-return]

    @strawberry.field
    def started_at(self) -> datetime | None:
        return self.row["started_at"]  # type: ignore[no-any-return]

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.row["finished_at"]  # type: ignore[no-any-return]

    @strawberry.field
    def duration_ms(self) -> Long | None:
        value = self.row["duration_ms"]
        return None if value is None else Long(int(value))

    @strawberry.field
    def error_class(self) -> str | None:
        return self.row["error_class"]  # type: ignore[no-any-return]

    @strawberry.field(description="The backfill this run is a chunk of.")
    def backfill_id(self) -> strawberry.ID | None:
        value = self.row.get("backfill_id")
        return None if value is None else strawberry.ID(str(value))

    @strawberry.field
    def snapshot_id(self) -> Long | None:
        value = self.row["snapshot_id"]
        return None if value is None else Long(int(value))

    @strawberry.field
    def metrics(self) -> RunMetrics:
        row = self.row
        return RunMetrics(
            rows_read=Long(row["rows_read"]),
            rows_written=Long(row["rows_written"]),
            bytes=Long(row["bytes_read"]),
            pages=Long(row["pages"]),
            requests=Long(row["requests"]),
            retries=Long(row["retries"]),
        )

    async def _full(self, info: Info) -> dict[str, Any]:
        if all(name in self.row for name in _HEAVY):
            return self.row
        full = await info.context.loaders.run.load(int(self.row["id"]))
        return full or self.row

    @strawberry.field
    async def error_message(self, info: Info) -> str | None:
        return (await self._full(info)).get("error_message")

    @strawberry.field
    async def parameters(self, info: Info) -> JSON:
        return JSON((await self._full(info)).get("parameters") or {})

    @strawberry.field
    async def provider(self, info: Info) -> ProviderNode | None:
        provider = await info.context.loaders.provider.load(int(self.row["provider_id"]))
        return ProviderNode(model=provider) if provider is not None else None

    @strawberry.field(
        description="The provider's name (a shortcut for provider { name }).",
        graphql_type=str | None,
    )
    def provider_name(self, info: Info) -> Any:
        # Listing rows carry the name; other rows load it (graphql-core awaits what is returned).
        name = self.row.get("provider_name")
        return name if name is not None else self._load_provider_name(info)

    async def _load_provider_name(self, info: Info) -> str | None:
        provider = await info.context.loaders.provider.load(int(self.row["provider_id"]))
        return provider.name if provider is not None else None

    @strawberry.field
    async def version(self, info: Info) -> SpecVersionNode | None:
        version = await info.context.loaders.version.load(int(self.row["version_id"]))
        return SpecVersionNode(model=version) if version is not None else None

    @strawberry.field
    async def parent(self, info: Info) -> RunNode | None:
        parent_id = self.row.get("parent_id")
        if parent_id is None:
            return None
        row = await info.context.loaders.run.load(int(parent_id))
        return RunNode(row=row) if row is not None else None

    @strawberry.field
    async def quality_results(self, info: Info) -> list[QualityResultNode]:
        results = await info.context.loaders.quality.load(int(self.row["id"]))
        return [
            QualityResultNode(
                name=r.name,
                kind=r.kind,
                passed=r.passed,
                observed=r.observed,
                threshold=r.threshold,
                details=JSON(r.details),
            )
            for r in results
        ]

    @strawberry.field(description="The run's events in order; page with `after` (a seq).")
    async def events(self, info: Info, after: Long = ZERO, first: int = 200) -> RunEventPage:
        return await event_page(info, int(self.row["id"]), after, first, kinds=None)


def run_node(run: Run) -> RunNode:
    """A node from a model instance (mutations return models)."""
    names = list(Run._meta.db_fields)
    return RunNode(row={name: getattr(run, name) for name in names})


@strawberry.type
class SpecVersionNode:
    model: strawberry.Private[SpecVersion]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field
    def number(self) -> int:
        return self.model.number

    @strawberry.field
    def author(self) -> str:
        return self.model.author

    @strawberry.field
    def message(self) -> str | None:
        return self.model.message

    @strawberry.field
    def engine(self) -> str:
        return self.model.engine

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="The spec as written (YAML or JSON).")
    def spec_text(self) -> str:
        return self.model.spec_text

    @strawberry.field(description="The validated spec, defaults applied.")
    def parsed(self) -> JSON:
        return JSON(self.model.spec_parsed)

    @strawberry.field(description="The compiled plan (Spark) or engine text (Flink, SeaTunnel).")
    def compiled(self) -> JSON | None:
        return JSON(self.model.compiled_plan)


@strawberry.type
class ProviderNode:
    model: strawberry.Private[Provider]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field
    def name(self) -> str:
        return self.model.name

    @strawberry.field
    def display_name(self) -> str:
        return self.model.display_name

    @strawberry.field
    def description(self) -> str | None:
        return self.model.description

    @strawberry.field
    def tenant_id(self) -> str:
        return self.model.tenant_id

    @strawberry.field
    def owner(self) -> str:
        return self.model.owner

    @strawberry.field
    def status(self) -> ProviderStatusEnum:  # type: ignore[valid-type]
        return self.model.status

    @strawberry.field
    def engine(self) -> str:
        return self.model.engine

    @strawberry.field
    def schedule_cron(self) -> str | None:
        return self.model.schedule_cron

    @strawberry.field
    def schedule_timezone(self) -> str:
        return self.model.schedule_timezone

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.model.updated_at

    @strawberry.field
    async def current_version(self, info: Info) -> SpecVersionNode | None:
        version_id = self.model.current_version_id  # type: ignore[attr-defined]
        if version_id is None:
            return None
        version = await info.context.loaders.version.load(int(version_id))
        return SpecVersionNode(model=version) if version is not None else None

    @strawberry.field(description="Every saved version, newest first.")
    async def versions(self, info: Info, first: int = 20) -> list[SpecVersionNode]:
        found = await info.context.loaders.provider_versions.load(
            (self.model.id, page_size(first, info.context.config))
        )
        return [SpecVersionNode(model=v) for v in found]

    @strawberry.field(description="The latest runs, newest first.")
    async def recent_runs(self, info: Info, first: int = 10) -> list[RunNode]:
        rows = await info.context.loaders.recent_runs.load(
            (self.model.id, page_size(first, info.context.config))
        )
        return [RunNode(row=row) for row in rows]

    @strawberry.field(description="Share of SUCCEEDED among the last `lastRuns` finished runs.")
    async def success_rate(self, info: Info, last_runs: int = 50) -> float | None:
        return await info.context.loaders.success_rate.load(
            (self.model.id, max(1, min(last_runs, 1000)))
        )

    @strawberry.field(description="When the scheduler next queues a run (active, scheduled only).")
    def next_scheduled_run(self) -> datetime | None:
        provider = self.model
        if provider.status is not ProviderStatus.ACTIVE or not provider.schedule_cron:
            return None
        return provider.next_run_at


async def event_page(
    info: Info, run_id: int, after: int, first: int, kinds: list[EventKind] | None
) -> RunEventPage:
    """One page of a run's events after sequence number ``after``."""
    size = page_size(first, info.context.config)
    if after < 0:
        raise InvalidInputError("after", "`after` is a sequence number, at least 0")
    # Through the request's loader: a page of runs that each ask for their events is one query.
    rows = await info.context.loaders.event_page.load(
        (run_id, after, size + 1, tuple(sorted(k.value for k in kinds or ())))
    )
    page = rows[:size]
    last = int(page[-1]["seq"]) if page else after
    return RunEventPage(
        events=[RunEventNode.of(row) for row in page],
        last_seq=Long(last),
        has_more=len(rows) > size,
    )
