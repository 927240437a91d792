"""Backfills: a group of chunk runs, looked at and cancelled as a whole."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.models import Backfill
from api.schema.arguments import ids
from api.schema.context import Info
from api.schema.errors import Forbidden, IllegalTransition, NotFound, attempt, guarded
from api.schema.nodes import BackfillNode
from api.schema.pagination import page_size
from api.schema.permissions import CanRead, require_principal
from api.services import providers as provider_service
from api.services import runs as run_service


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
