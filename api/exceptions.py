"""Errors of the API's service layer; resolvers turn the expected ones into result types."""

from __future__ import annotations


class ApiError(Exception):
    """Base of the API's own exceptions."""


class NotFoundError(ApiError):
    """The object does not exist, or the caller's tenant cannot see it."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class ForbiddenError(ApiError):
    """The caller's key lacks the scope or the tenant for this."""

    def __init__(self, message: str, required_scope: str | None = None) -> None:
        super().__init__(message)
        self.required_scope = required_scope


class IllegalTransitionError(ApiError):
    """A run cannot move from its status to the one asked for (the database said so)."""

    def __init__(
        self,
        run_id: int,
        current: str,
        target: str,
        *,
        reason: str | None = None,
        kind: str = "run",
    ) -> None:
        why = f": {reason}" if reason else ""
        super().__init__(f"{kind} {run_id} cannot go from {current} to {target}{why}")
        self.run_id = run_id
        self.current = current
        self.target = target


class ConflictError(ApiError):
    """The request contradicts existing state (e.g. a provider name already taken)."""


class InvalidInputError(ApiError):
    """A request value is out of its allowed range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
