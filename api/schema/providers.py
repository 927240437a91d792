"""Providers and spec versions: listing, detail, history and diffs, and provider changes."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api import cursors, sql
from api.exceptions import InvalidInputError, NotFoundError
from api.models import Provider, ProviderStatus, SpecVersion
from api.schema.arguments import ids
from api.schema.context import Info
from api.schema.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SpecInvalid,
    SpecIssue,
    attempt,
    guarded,
)
from api.schema.nodes import ProviderNode, ProviderStatusEnum, SpecVersionNode
from api.schema.pagination import Edge, LazyCount, PageInfo, page_size
from api.schema.permissions import CanRead, require_principal
from api.services import providers as provider_service
from uis_compiler.types import format_path


@strawberry.type
class ProviderConnection:
    edges: list[Edge[ProviderNode]]
    page_info: PageInfo
    counter: strawberry.Private[LazyCount]

    @strawberry.field(description="How many providers match, up to a cap (see totalCountExact).")
    async def total_count(self) -> int:
        return (await self.counter.result())[0]

    @strawberry.field(description="False when totalCount stopped at the cap.")
    async def total_count_exact(self) -> bool:
        return (await self.counter.result())[1]


@strawberry.input
class ProviderFilterInput:
    statuses: list[ProviderStatusEnum] | None = None  # type: ignore[valid-type]
    search: str | None = None
    tenant: str | None = None


@strawberry.type
class SpecChange:
    path: str
    before: JSON | None
    after: JSON | None


@strawberry.type
class SpecDiff:
    from_version: SpecVersionNode
    to_version: SpecVersionNode
    unified: str
    changes: list[SpecChange]


def _changes(before: Any, after: Any, path: tuple[str | int, ...] = ()) -> list[SpecChange]:
    """Field-level differences of two parsed specs, in document order."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[SpecChange] = []
        for key in [*before, *(k for k in after if k not in before)]:
            found += _changes(before.get(key), after.get(key), (*path, key))
        return found
    if before == after:
        return []
    return [SpecChange(path=format_path(path), before=before, after=after)]


async def _providers_page(
    info: Info, given: ProviderFilterInput | None, first: int | None, after: str | None
) -> ProviderConnection:
    principal = require_principal(info)
    given = given or ProviderFilterInput()
    size = page_size(first, info.context.config)
    where: list[str] = []
    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    statuses = [ProviderStatus(s).value for s in given.statuses or []]
    if statuses:
        # Deleted providers are listed only when asked for by their status.
        where.append(f"status = ANY({bind(statuses)})")
    else:
        where.append("deleted_at IS NULL")
    tenant = principal.tenant_id or given.tenant
    if principal.tenant_id is not None and given.tenant not in (None, principal.tenant_id):
        return ProviderConnection(
            edges=[],
            page_info=PageInfo(has_next_page=False, end_cursor=None),
            counter=LazyCount(_nothing),
        )
    if tenant is not None:
        where.append(f"tenant_id = {bind(tenant)}")
    if given.search:
        # The same expression as the trigram index, so a search never scans the table.
        where.append(f"(name || ' ' || display_name) ILIKE {bind('%' + given.search + '%')}")
    matching, matching_args = " AND ".join(where), list(args)
    cap = info.context.config.total_count_cap

    async def count() -> tuple[int, bool]:
        found = await sql.rows(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM providers WHERE {matching} "
            f"LIMIT {cap + 1}) capped",
            matching_args,
        )
        n = int(found[0]["n"])
        return min(n, cap), n <= cap

    if after is not None:
        _, last_id = cursors.decode(after, "PROVIDER")
        where.append(f"id < {bind(last_id)}")
    rows = await sql.rows(
        f"SELECT id FROM providers WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT {bind(size + 1)}",
        args,
    )
    page_ids = [int(row["id"]) for row in rows[:size]]
    models = {p.id: p for p in await Provider.filter(id__in=page_ids)}
    edges = [
        Edge(cursor=cursors.encode("PROVIDER", None, pid), node=ProviderNode(model=models[pid]))
        for pid in page_ids
    ]
    return ProviderConnection(
        counter=LazyCount(count),
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def _nothing() -> tuple[int, bool]:
    return 0, True


async def _version(info: Info, version_id: strawberry.ID, argument: str) -> SpecVersion:
    principal = require_principal(info)
    version = await info.context.loaders.version.load(ids([version_id], argument)[0])
    if version is None:
        raise NotFoundError("spec version", str(version_id))
    await provider_service.visible(principal, version.provider_id, include_deleted=True)  # type: ignore[attr-defined]
    return version


@strawberry.type
class ProviderQueries:
    @strawberry.field(permission_classes=[CanRead])
    async def providers(
        self,
        info: Info,
        filter: ProviderFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ProviderConnection:
        return await guarded(lambda: _providers_page(info, filter, first, after))

    @strawberry.field(permission_classes=[CanRead])
    async def provider(self, info: Info, id: strawberry.ID) -> ProviderNode:
        async def work() -> ProviderNode:
            principal = require_principal(info)
            provider = await provider_service.visible(principal, ids([id], "id")[0])
            return ProviderNode(model=provider)

        return await guarded(work)

    @strawberry.field(permission_classes=[CanRead])
    async def spec_versions(
        self, info: Info, provider_id: strawberry.ID, first: int | None = None
    ) -> list[SpecVersionNode]:
        async def work() -> list[SpecVersionNode]:
            principal = require_principal(info)
            provider = await provider_service.visible(
                principal, ids([provider_id], "providerId")[0], include_deleted=True
            )
            found = (
                await SpecVersion.filter(provider_id=provider.id)
                .order_by("-number")
                .limit(page_size(first, info.context.config))
            )
            return [SpecVersionNode(model=v) for v in found]

        return await guarded(work)

    @strawberry.field(permission_classes=[CanRead])
    async def spec_diff(
        self,
        info: Info,
        from_: Annotated[strawberry.ID, strawberry.argument(name="from")],
        to: strawberry.ID,
    ) -> SpecDiff:
        async def work() -> SpecDiff:
            old, new = await _version(info, from_, "from"), await _version(info, to, "to")
            if old.provider_id != new.provider_id:  # type: ignore[attr-defined]
                raise InvalidInputError("to", "both versions must belong to one provider")
            unified = "".join(
                difflib.unified_diff(
                    old.spec_text.splitlines(keepends=True),
                    new.spec_text.splitlines(keepends=True),
                    fromfile=f"v{old.number}",
                    tofile=f"v{new.number}",
                )
            )
            return SpecDiff(
                from_version=SpecVersionNode(model=old),
                to_version=SpecVersionNode(model=new),
                unified=unified,
                changes=_changes(old.spec_parsed, new.spec_parsed),
            )

        return await guarded(work)


@strawberry.type
class ProviderSaved:
    provider: ProviderNode
    version: SpecVersionNode
    warnings: list[SpecIssue]


@strawberry.type
class ProviderChanged:
    provider: ProviderNode


CreateProviderResult = Annotated[
    ProviderSaved | SpecInvalid | Forbidden | Conflict, strawberry.union("CreateProviderResult")
]
UpdateProviderResult = Annotated[
    ProviderSaved | SpecInvalid | NotFound | Forbidden | Conflict | InvalidInput,
    strawberry.union("UpdateProviderResult"),
]
ProviderChangeResult = Annotated[
    ProviderChanged | NotFound | Forbidden | Conflict | InvalidInput,
    strawberry.union("ProviderChangeResult"),
]


def _saved(saved: provider_service.Saved) -> ProviderSaved:
    return ProviderSaved(
        provider=ProviderNode(model=saved.provider),
        version=SpecVersionNode(model=saved.version),
        warnings=[SpecIssue.of(w) for w in saved.warnings],
    )


@strawberry.type
class ProviderMutations:
    @strawberry.mutation(description="Register a provider; its spec becomes version 1.")
    async def create_provider(
        self, info: Info, spec: str, message: str | None = None
    ) -> CreateProviderResult:
        principal = require_principal(info)

        async def work() -> ProviderSaved:
            return _saved(
                await provider_service.create(
                    principal,
                    spec,
                    message=message,
                    options=info.context.compile_options,
                    grants=info.context.config.grants,
                    request_id=info.context.request_id,
                )
            )

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Save a new spec version of a provider.")
    async def update_provider(
        self, info: Info, id: strawberry.ID, spec: str, message: str | None = None
    ) -> UpdateProviderResult:
        principal = require_principal(info)

        async def work() -> ProviderSaved:
            return _saved(
                await provider_service.update(
                    principal,
                    ids([id], "id")[0],
                    spec,
                    message=message,
                    options=info.context.compile_options,
                    grants=info.context.config.grants,
                    request_id=info.context.request_id,
                )
            )

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def pause_provider(self, info: Info, id: strawberry.ID) -> ProviderChangeResult:
        return await _set_status(info, id, ProviderStatus.PAUSED)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def resume_provider(self, info: Info, id: strawberry.ID) -> ProviderChangeResult:
        return await _set_status(info, id, ProviderStatus.ACTIVE)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Delete a provider without active runs (history is kept).")
    async def delete_provider(self, info: Info, id: strawberry.ID) -> ProviderChangeResult:
        principal = require_principal(info)

        async def work() -> ProviderChanged:
            provider = await provider_service.delete(
                principal, ids([id], "id")[0], request_id=info.context.request_id
            )
            return ProviderChanged(provider=ProviderNode(model=provider))

        return await attempt(work)  # type: ignore[no-any-return]


async def _set_status(info: Info, id: strawberry.ID, status: ProviderStatus) -> Any:
    """Pause or resume; the value is a ProviderChangeResult member."""
    principal = require_principal(info)

    async def work() -> ProviderChanged:
        provider = await provider_service.set_status(
            principal, ids([id], "id")[0], status, request_id=info.context.request_id
        )
        return ProviderChanged(provider=ProviderNode(model=provider))

    return await attempt(work)
