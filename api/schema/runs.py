"""Runs: the listing, the detail with metrics, quality and events, logs, and run control."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.exceptions import InvalidInputError, NotFoundError
from api.models import EventKind, RunStatus, RunTrigger
from api.queries import runs as run_queries
from api.schema.arguments import ids
from api.schema.backfills import BackfillNode
from api.schema.context import Info
from api.schema.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    attempt,
    guarded,
)
from api.schema.nodes import (
    RunEventPage,
    RunNode,
    RunStatusEnum,
    RunTriggerEnum,
    event_page,
    run_node,
)
from api.schema.pagination import Edge, LazyCount, PageInfo, page_size
from api.schema.permissions import CanRead, require_principal
from api.schema.scalars import ZERO, Long
from api.services import runs as run_service


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
    backfill: BackfillNode
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
    RunQueued | NotFound | Forbidden | IllegalTransition | Conflict | InvalidInput,
    strawberry.union("RetryRunResult"),
]


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
        max_concurrency: int = 1,
    ) -> BackfillResult:
        """Queue the window as chunk runs, one group that runs in order, cancellable whole."""
        principal = require_principal(info)

        async def work() -> BackfillQueued:
            queued = await run_service.backfill(
                principal,
                ids([provider_id], "providerId")[0],
                from_,
                to,
                chunk_days,
                parameters if isinstance(parameters, dict) else None,
                max_concurrency=max_concurrency,
                request_id=info.context.request_id,
            )
            return BackfillQueued(
                backfill=BackfillNode(model=queued.backfill),
                runs=[run_node(run) for run in queued.runs],
            )

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
