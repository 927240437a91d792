"""Scopes on every root field: read for queries and subscriptions, run/write/admin for changes.

Mutations report a missing scope as a `Forbidden` result (their expected failures are values);
queries and subscriptions refuse with a typed error (`extensions.code`).
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from api.auth import Principal
from api.models import Scope
from api.schema.context import Info
from api.schema.errors import typed_error


def check_scope(principal: Principal | None, scope: Scope) -> None:
    """Raise a typed GraphQL error unless ``principal`` holds ``scope``."""
    if principal is None:
        raise typed_error(
            "no API key: send `Authorization: Bearer <key>` or `X-API-Key`", "UNAUTHENTICATED"
        )
    if not principal.has(scope):
        raise typed_error(
            f"this needs an API key with the `{scope.value}` scope",
            "FORBIDDEN",
            requiredScope=scope.value,
        )


def require_principal(info: Info) -> Principal:
    """The caller; the transport admits only authenticated requests, so this always holds."""
    principal = info.context.principal
    check_scope(principal, Scope.READ)
    assert principal is not None
    return principal


class CanRead(BasePermission):
    """Every query and subscription field needs the read scope (which every key has)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        # Raising (instead of returning False) keeps the message per request: permission
        # objects are shared by every request of the schema.
        check_scope(info.context.principal, Scope.READ)
        return True


class CanAdmin(BasePermission):
    """Reading API keys and the audit log needs admin."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        check_scope(info.context.principal, Scope.ADMIN)
        return True
