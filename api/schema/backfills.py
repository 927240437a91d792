"""Backfills: a group of chunk runs, looked at and cancelled as a whole."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.models import Backfill
from api.queries.backfills import run_rows as backfill_runs
from api.schema.arguments import ids
from api.schema.context import Info
from api.schema.errors import Forbidden, IllegalTransition, NotFound, attempt, guarded
from api.schema.nodes import ProviderNode, RunNode
from api.schema.pagination import page_size
from api.schema.permissions import CanRead, require_principal
from api.services import providers as provider_service
from api.services import runs as run_service


@strawberry.enum
class BackfillStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


@strawberry.type(description="Chunks by the status of their latest attempt.")
class BackfillProgress:
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int


@strawberry.type(description="A date window ingested as chunk runs, in order.")
class BackfillNode:
    model: strawberry.Private[Backfill]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field(name="from")
    def window_start(self) -> date:
        return self.model.window_start

    @strawberry.field(name="to")
    def window_end(self) -> date:
        return self.model.window_end

    @strawberry.field
    def chunk_days(self) -> int:
        return self.model.chunk_days

    @strawberry.field(description="Chunks that run at once, at most.")
    def max_concurrency(self) -> int:
        return self.model.max_concurrency

    @strawberry.field
    def created_by(self) -> str:
        return self.model.created_by

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def canceled_at(self) -> datetime | None:
        return self.model.canceled_at

    @strawberry.field
    async def provider(self, info: Info) -> ProviderNode | None:
        provider_id = self.model.provider_id  # type: ignore[attr-defined]
        provider = await info.context.loaders.provider.load(int(provider_id))
        return ProviderNode(model=provider) if provider is not None else None

    async def _progress(self, info: Info) -> BackfillProgress:
        counts = await info.context.loaders.backfill_counts.load(self.model.id)
        return BackfillProgress(
            total=sum(counts.values()),
            queued=counts.get("QUEUED", 0),
            running=sum(counts.get(s, 0) for s in ("STARTING", "RUNNING", "CANCELING")),
            succeeded=counts.get("SUCCEEDED", 0),
            failed=counts.get("FAILED", 0),
            canceled=counts.get("CANCELED", 0),
        )

    @strawberry.field
    async def progress(self, info: Info) -> BackfillProgress:
        return await self._progress(info)

    @strawberry.field(description="The group's status, from its chunks' latest attempts.")
    async def status(self, info: Info) -> BackfillStatus:
        done = await self._progress(info)
        if done.running:
            return BackfillStatus.RUNNING
        if self.model.canceled_at is not None:
            return BackfillStatus.CANCELED
        if done.queued:
            started = done.succeeded or done.failed or done.canceled
            return BackfillStatus.RUNNING if started else BackfillStatus.QUEUED
        if done.failed:
            return BackfillStatus.FAILED
        return BackfillStatus.SUCCEEDED if done.succeeded else BackfillStatus.CANCELED

    @strawberry.field(description="Every run of the group (retries too), in window order.")
    async def runs(self, info: Info, first: int = 100) -> list[RunNode]:
        rows = await backfill_runs(self.model.id, page_size(first, info.context.config))
        return [RunNode(row=row) for row in rows]


@strawberry.type
class BackfillQueries:
    @strawberry.field(permission_classes=[CanRead])
    async def backfill(self, info: Info, id: strawberry.ID) -> BackfillNode:
        async def work() -> BackfillNode:
            principal = require_principal(info)
            group = await run_service.visible_backfill(principal, ids([id], "id")[0])
            return BackfillNode(model=group)

        return await guarded(work)

    @strawberry.field(
        permission_classes=[CanRead], description="A provider's backfills, newest first."
    )
    async def backfills(
        self, info: Info, provider_id: strawberry.ID, first: int | None = None
    ) -> list[BackfillNode]:
        async def work() -> list[BackfillNode]:
            principal = require_principal(info)
            provider = await provider_service.visible(
                principal, ids([provider_id], "providerId")[0], include_deleted=True
            )
            found = (
                await Backfill.filter(provider_id=provider.id)
                .order_by("-created_at", "-id")
                .limit(page_size(first, info.context.config))
            )
            return [BackfillNode(model=group) for group in found]

        return await guarded(work)


@strawberry.type
class BackfillCanceled:
    backfill: BackfillNode


CancelBackfillResult = Annotated[
    BackfillCanceled | NotFound | Forbidden | IllegalTransition,
    strawberry.union("CancelBackfillResult"),
]


@strawberry.type
class BackfillMutations:
    @strawberry.mutation(description="Cancel every chunk of a backfill that has not finished.")
    async def cancel_backfill(self, info: Info, id: strawberry.ID) -> CancelBackfillResult:
        principal = require_principal(info)

        async def work() -> BackfillCanceled:
            group = await run_service.cancel_backfill(
                principal, ids([id], "id")[0], request_id=info.context.request_id
            )
            return BackfillCanceled(backfill=BackfillNode(model=group))

        return await attempt(work)  # type: ignore[no-any-return]
