"""API keys (admin only): create (the token is shown once), revoke, list; and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api import audit
from api.auth import create_key
from api.exceptions import ForbiddenError, InvalidInputError, NotFoundError
from api.models import ApiKey, AuditEntry, Scope
from api.schema.arguments import ids
from api.schema.context import Info
from api.schema.errors import Forbidden, InvalidInput, NotFound, attempt
from api.schema.pagination import page_size
from api.schema.permissions import CanAdmin, require_principal

ScopeEnum = strawberry.enum(Scope, name="Scope")


@strawberry.type
class ApiKeyNode:
    model: strawberry.Private[ApiKey]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field
    def name(self) -> str:
        return self.model.name

    @strawberry.field(description="The public part of the key (hw_<prefix>_…), never the secret.")
    def prefix(self) -> str:
        return self.model.prefix

    @strawberry.field
    def scopes(self) -> list[str]:
        return list(self.model.scopes)

    @strawberry.field
    def tenant_id(self) -> str | None:
        return self.model.tenant_id

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def last_used_at(self) -> datetime | None:
        return self.model.last_used_at

    @strawberry.field
    def revoked_at(self) -> datetime | None:
        return self.model.revoked_at


@strawberry.type
class AuditEntryNode:
    id: strawberry.ID
    actor: str
    action: str
    target_type: str
    target_id: str
    before: JSON | None
    after: JSON | None
    request_id: str | None
    at: datetime


@strawberry.type
class ApiKeyCreated:
    key: ApiKeyNode
    #: The whole key. It is shown this once and cannot be recovered.
    token: str


@strawberry.type
class ApiKeyRevoked:
    key: ApiKeyNode


CreateApiKeyResult = Annotated[
    ApiKeyCreated | Forbidden | InvalidInput, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[
    ApiKeyRevoked | NotFound | Forbidden | InvalidInput, strawberry.union("RevokeApiKeyResult")
]


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(permission_classes=[CanAdmin])
    async def api_keys(self, info: Info) -> list[ApiKeyNode]:
        principal = require_principal(info)
        query = ApiKey.all().order_by("-id")
        if principal.tenant_id is not None:
            query = query.filter(tenant_id=principal.tenant_id)
        return [ApiKeyNode(model=key) for key in await query.limit(500)]

    @strawberry.field(
        permission_classes=[CanAdmin], description="The latest changes, newest first."
    )
    async def audit_log(self, info: Info, first: int = 50) -> list[AuditEntryNode]:
        principal = require_principal(info)
        query = AuditEntry.all().order_by("-at", "-id")
        if principal.tenant_id is not None:
            query = query.filter(tenant_id=principal.tenant_id)
        entries = await query.limit(page_size(first, info.context.config))
        return [
            AuditEntryNode(
                id=strawberry.ID(str(e.id)),
                actor=e.actor,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                before=JSON(e.before),
                after=JSON(e.after),
                request_id=e.request_id,
                at=e.at,
            )
            for e in entries
        ]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(description="Create an API key; the token in the result is shown once.")
    async def create_api_key(
        self,
        info: Info,
        name: str,
        scopes: list[ScopeEnum],  # type: ignore[valid-type]
        tenant_id: str | None = None,
    ) -> CreateApiKeyResult:
        principal = require_principal(info)

        async def work() -> ApiKeyCreated:
            if not principal.has(Scope.ADMIN):
                raise ForbiddenError("creating API keys needs the `admin` scope", "admin")
            if not scopes:
                raise InvalidInputError("scopes", "give the key at least one scope")
            if not name.strip():
                raise InvalidInputError("name", "give the key a name")
            # A tenant-bound admin can only mint keys for its own tenant.
            tenant = tenant_id if principal.tenant_id is None else principal.tenant_id
            if principal.tenant_id is not None and tenant_id not in (None, principal.tenant_id):
                raise ForbiddenError("a tenant's key cannot create keys for another tenant")
            created = await create_key(
                name.strip(),
                [Scope(s) for s in scopes],
                tenant_id=tenant,
                created_by=principal.name,
            )
            await audit.record(
                principal,
                "apikey.create",
                "api_key",
                created.record.id,
                tenant_id=tenant,
                after={
                    "name": created.record.name,
                    "scopes": created.record.scopes,
                    "tenant_id": tenant,
                },
                request_id=info.context.request_id,
            )
            return ApiKeyCreated(key=ApiKeyNode(model=created.record), token=created.token)

        return await attempt(work)  # type: ignore[no-any-return]

    @strawberry.mutation
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyResult:
        principal = require_principal(info)

        async def work() -> ApiKeyRevoked:
            if not principal.has(Scope.ADMIN):
                raise ForbiddenError("revoking API keys needs the `admin` scope", "admin")
            key = await ApiKey.get_or_none(id=ids([id], "id")[0])
            if key is None or (
                principal.tenant_id is not None and key.tenant_id != principal.tenant_id
            ):
                raise NotFoundError("api key", str(id))
            if key.revoked_at is None:
                key.revoked_at = datetime.now(UTC)
                await key.save(update_fields=["revoked_at"])
                await audit.record(
                    principal,
                    "apikey.revoke",
                    "api_key",
                    key.id,
                    tenant_id=key.tenant_id,
                    after={"revoked_at": key.revoked_at.isoformat()},
                    request_id=info.context.request_id,
                )
            return ApiKeyRevoked(key=ApiKeyNode(model=key))

        return await attempt(work)  # type: ignore[no-any-return]
