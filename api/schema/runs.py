"""Runs: the listing, the detail with metrics, quality and events, logs, and run control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from api import sql
from api.exceptions import InvalidInputError, NotFoundError
from api.models import EventKind, LogLevel, Run, RunStatus, RunTrigger
from api.queries import runs as run_queries
from api.schema.context import Info
from api.schema.errors import (
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    as_error,
    problem_of,
)
from api.schema.pagination import Edge, LazyCount, PageInfo, page_size
from api.schema.permissions import CanRead, require_principal
from api.schema.scalars import ZERO, Long
from api.services import runs as run_service

if TYPE_CHECKING:
    from api.schema.providers import ProviderNode, SpecVersionNode

RunStatusEnum = strawberry.enum(RunStatus, name="RunStatus")
RunTriggerEnum = strawberry.enum(RunTrigger, name="RunTrigger")
EventKindEnum = strawberry.enum(EventKind, name="EventKind")
LogLevelEnum = strawberry.enum(LogLevel, name="LogLevel")


@strawberry.enum
class RunSortField(Enum):
    CREATED_AT = "CREATED_AT"
    STARTED_AT = "STARTED_AT"
    DURATION = "DURATION"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


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
    async def provider(
        self, info: Info
    ) -> Annotated[ProviderNode, strawberry.lazy("api.schema.providers")] | None:
        from api.schema.providers import ProviderNode

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
    async def version(
        self, info: Info
    ) -> Annotated[SpecVersionNode, strawberry.lazy("api.schema.providers")] | None:
        from api.schema.providers import SpecVersionNode

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


async def event_page(
    info: Info, run_id: int, after: int, first: int, kinds: list[EventKind] | None
) -> RunEventPage:
    size = page_size(first, info.context.config)
    if after < 0:
        raise InvalidInputError("after", "`after` is a sequence number, at least 0")
    args: list[Any] = [run_id, after, size + 1]
    kind_clause = ""
    if kinds:
        args.append([kind.value for kind in kinds])
        kind_clause = " AND kind = ANY($4)"
    rows = await sql.rows(
        "SELECT seq, at, kind, level, message, payload FROM run_events "
        f"WHERE run_id = $1 AND seq > $2{kind_clause} ORDER BY seq LIMIT $3",
        args,
    )
    page = rows[:size]
    last = int(page[-1]["seq"]) if page else after
    return RunEventPage(
        events=[RunEventNode.of(row) for row in page],
        last_seq=Long(last),
        has_more=len(rows) > size,
    )


@strawberry.type
class RunConnection:
    edges: list[Edge[RunNode]]
    page_info: PageInfo
    counter: strawberry.Private[LazyCount]

    @strawberry.field(description="How many runs match, counted up to a cap (see totalCountExact).")
    async def total_count(self) -> int:
        return (await self.counter.result())[0]

    @strawberry.field(description="False when totalCount stopped at the cap (show it as `1000+`).")
    async def total_count_exact(self) -> bool:
        return (await self.counter.result())[1]


@strawberry.input
class RunFilterInput:
    statuses: list[RunStatusEnum] | None = None  # type: ignore[valid-type]
    provider_ids: list[strawberry.ID] | None = None
    triggers: list[RunTriggerEnum] | None = None  # type: ignore[valid-type]
    created_after: datetime | None = None
    created_before: datetime | None = None


@strawberry.input
class RunSortInput:
    field: RunSortField = RunSortField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


#: Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1


def ids(values: list[strawberry.ID] | None, name: str) -> tuple[int, ...]:
    """Numeric ids from GraphQL IDs; InvalidInputError names the argument otherwise."""
    try:
        found = tuple(int(v) for v in values or [])
    except ValueError as exc:
        raise InvalidInputError(name, f"`{name}` holds an id that is not a number") from exc
    if any(not 0 < value <= MAX_ID for value in found):
        raise InvalidInputError(name, f"`{name}` holds an id outside 1..{MAX_ID}")
    return found


def to_filter(given: RunFilterInput | None, tenant_id: str | None) -> run_queries.RunFilter:
    given = given or RunFilterInput()
    return run_queries.RunFilter(
        statuses=tuple(RunStatus(s).value for s in given.statuses or []),
        provider_ids=ids(given.provider_ids, "providerIds"),
        triggers=tuple(RunTrigger(t).value for t in given.triggers or []),
        created_after=given.created_after,
        created_before=given.created_before,
        tenant_id=tenant_id,
    )


R = TypeVar("R")


async def guarded(work: Callable[[], Awaitable[R]]) -> R:
    """Run a query's work, turning expected failures into typed errors."""
    try:
        return await work()
    except Exception as exc:
        converted = as_error(exc)
        if converted is exc:
            raise
        raise converted from exc


async def load_run(info: Info, id: strawberry.ID, argument: str = "id") -> RunNode:
    """The run, if the caller's tenant may see it; NotFoundError otherwise."""
    principal = require_principal(info)
    row = await info.context.loaders.run.load(ids([id], argument)[0])
    if row is None or not principal.sees(row["tenant_id"]):
        raise NotFoundError("run", str(id))
    return RunNode(row=row)


@strawberry.type
class RunQueries:
    @strawberry.field(permission_classes=[CanRead], description="Runs, newest first by default.")
    async def runs(
        self,
        info: Info,
        filter: RunFilterInput | None = None,
        sort: RunSortInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> RunConnection:
        principal = require_principal(info)
        order = sort or RunSortInput()
        filters = to_filter(filter, principal.tenant_id)

        async def work() -> RunConnection:
            size = page_size(first, info.context.config)
            sort_field: run_queries.SortField = order.field.value
            direction: run_queries.Direction = order.direction.value
            rows, more = await run_queries.fetch_page(filters, sort_field, direction, size, after)
            edges = [
                Edge(cursor=run_queries.cursor_of(row, sort_field), node=RunNode(row=row))
                for row in rows
            ]
            return RunConnection(
                edges=edges,
                page_info=PageInfo(
                    has_next_page=more, end_cursor=edges[-1].cursor if edges else None
                ),
                counter=LazyCount(
                    lambda: run_queries.count(filters, info.context.config.total_count_cap)
                ),
            )

        return await guarded(work)

    @strawberry.field(permission_classes=[CanRead])
    async def run(self, info: Info, id: strawberry.ID) -> RunNode:
        return await guarded(lambda: load_run(info, id))

    @strawberry.field(permission_classes=[CanRead], description="A run's log lines in order.")
    async def run_logs(
        self, info: Info, run_id: strawberry.ID, after: Long = ZERO, first: int = 200
    ) -> RunEventPage:
        async def work() -> RunEventPage:
            node = await load_run(info, run_id, "runId")
            return await event_page(info, int(node.row["id"]), after, first, [EventKind.LOG])

        return await guarded(work)


@strawberry.type
class RunQueued:
    run: RunNode


@strawberry.type
class BackfillQueued:
    runs: list[RunNode]


@strawberry.type
class RunCanceled:
    run: RunNode


TriggerRunResult = Annotated[
    RunQueued | NotFound | Forbidden | InvalidInput, strawberry.union("TriggerRunResult")
]
BackfillResult = Annotated[
    BackfillQueued | NotFound | Forbidden | InvalidInput, strawberry.union("BackfillResult")
]
CancelRunResult = Annotated[
    RunCanceled | NotFound | Forbidden | IllegalTransition | InvalidInput,
    strawberry.union("CancelRunResult"),
]
RetryRunResult = Annotated[
    RunQueued | NotFound | Forbidden | IllegalTransition | InvalidInput,
    strawberry.union("RetryRunResult"),
]


async def attempt(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run a mutation's work; expected failures become result types, others propagate.

    The value is a member of the calling mutation's result union (its work's type, or one of
    the problems that union lists).
    """
    try:
        return await work()
    except Exception as exc:
        problem = problem_of(exc)
        if problem is None:
            raise
        return problem


@strawberry.type
class RunMutations:
    @strawberry.mutation
    async def trigger_run(
        self, info: Info, provider_id: strawberry.ID, parameters: JSON | None = None
    ) -> TriggerRunResult:
        principal = require_principal(info)

        async def work() -> RunQueued:
            if parameters is not None and not isinstance(parameters, dict):
                raise InvalidInputError("parameters", "`parameters` is an object")
            run = await run_service.trigger(
                principal,
                ids([provider_id], "providerId")[0],
                parameters,
                request_id=info.context.request_id,
            )
            return RunQueued(run=run_node(run))

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def backfill(
        self,
        info: Info,
        provider_id: strawberry.ID,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        chunk_days: int = 1,
        parameters: JSON | None = None,
    ) -> BackfillResult:
        principal = require_principal(info)

        async def work() -> BackfillQueued:
            runs = await run_service.backfill(
                principal,
                ids([provider_id], "providerId")[0],
                from_,
                to,
                chunk_days,
                parameters if isinstance(parameters, dict) else None,
                request_id=info.context.request_id,
            )
            return BackfillQueued(runs=[run_node(run) for run in runs])

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def cancel_run(self, info: Info, run_id: strawberry.ID) -> CancelRunResult:
        principal = require_principal(info)

        async def work() -> RunCanceled:
            run = await run_service.cancel(
                principal, ids([run_id], "runId")[0], request_id=info.context.request_id
            )
            return RunCanceled(run=run_node(run))

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def retry_run(self, info: Info, run_id: strawberry.ID) -> RetryRunResult:
        principal = require_principal(info)

        async def work() -> RunQueued:
            run = await run_service.retry(
                principal, ids([run_id], "runId")[0], request_id=info.context.request_id
            )
            return RunQueued(run=run_node(run))

        return await attempt(work)  # type: ignore[no-any-return]
