"""The audit log: every mutation records who did what to which object, before and after."""

from __future__ import annotations

from typing import Any

from api.auth import Principal
from api.models import AuditEntry


async def record(
    actor: Principal,
    action: str,
    target_type: str,
    target_id: object,
    *,
    tenant_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Append one audit entry (inside the caller's transaction, when there is one).

    The entry belongs to the target's tenant, so that tenant's admins see every change made to
    their objects, whoever made it.
    """
    await AuditEntry.create(
        actor=f"{actor.name}#{actor.key_id}",
        tenant_id=tenant_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=request_id,
    )
