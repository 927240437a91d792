"""Expected failures as GraphQL types (members of result unions), and typed GraphQL errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from api.exceptions import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from api.services.specs import SpecInvalidError
from uis_compiler import Issue


@strawberry.type(description="One problem in a spec, with where it is and how to fix it.")
class SpecIssue:
    code: str
    severity: str
    message: str
    path: str
    line: int
    column: int
    hint: str | None

    @classmethod
    def of(cls, issue: Issue) -> SpecIssue:
        return cls(
            code=issue.code,
            severity=issue.severity.value,
            message=issue.message,
            path=issue.path,
            line=issue.line,
            column=issue.column,
            hint=issue.hint,
        )


@strawberry.interface(description="An expected failure of a mutation.")
class Problem:
    message: str


@strawberry.type(description="The spec has errors; nothing was saved.")
class SpecInvalid(Problem):
    issues: list[SpecIssue]


@strawberry.type(description="No such object, or the caller's tenant cannot see it.")
class NotFound(Problem):
    kind: str
    id: strawberry.ID


@strawberry.type(description="The API key lacks the scope or tenant this needs.")
class Forbidden(Problem):
    required_scope: str | None


@strawberry.type(description="The run's state machine does not allow this move.")
class IllegalTransition(Problem):
    run_id: strawberry.ID
    current_status: str
    requested: str


@strawberry.type(description="The request contradicts existing state.")
class Conflict(Problem):
    pass


@strawberry.type(description="A request value is out of range; `field` names it.")
class InvalidInput(Problem):
    field: str


ProblemType = SpecInvalid | NotFound | Forbidden | IllegalTransition | Conflict | InvalidInput


def problem_of(exc: Exception) -> ProblemType | None:
    """The result type of an expected failure; None for anything unexpected."""
    if isinstance(exc, SpecInvalidError):
        return SpecInvalid(
            message=str(exc), issues=[SpecIssue.of(i) for i in exc.issues if i.is_error]
        )
    if isinstance(exc, NotFoundError):
        return NotFound(message=str(exc), kind=exc.kind, id=strawberry.ID(exc.ident))
    if isinstance(exc, ForbiddenError):
        return Forbidden(message=str(exc), required_scope=exc.required_scope)
    if isinstance(exc, IllegalTransitionError):
        return IllegalTransition(
            message=str(exc),
            run_id=strawberry.ID(str(exc.run_id)),
            current_status=exc.current,
            requested=exc.target,
        )
    if isinstance(exc, ConflictError):
        return Conflict(message=str(exc))
    if isinstance(exc, InvalidInputError):
        return InvalidInput(message=str(exc), field=exc.field)
    return None


def typed_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    """A GraphQL error clients can branch on: ``extensions.code``."""
    return GraphQLError(message, extensions={"code": code, **extensions})


def as_error(exc: Exception) -> GraphQLError | Exception:
    """Query-side: expected failures become typed errors; others stay (and get masked)."""
    if isinstance(exc, NotFoundError):
        return typed_error(str(exc), "NOT_FOUND", kind=exc.kind, id=exc.ident)
    if isinstance(exc, ForbiddenError):
        return typed_error(str(exc), "FORBIDDEN", requiredScope=exc.required_scope)
    if isinstance(exc, InvalidInputError):
        return typed_error(str(exc), "BAD_USER_INPUT", field=exc.field)
    return exc


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
