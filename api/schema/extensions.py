"""Schema extensions: request ids on every response, masked unexpected errors, metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError, ValueNode
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types.graphql import OperationType

from api import metrics
from api.schema.errors import as_error, typed_error

log = structlog.get_logger("api.graphql")


def _request_id(extension: SchemaExtension) -> str | None:
    return getattr(extension.execution_context.context, "request_id", None)


class RequestId(SchemaExtension):
    """Adds `extensions.requestId` to every result, so a user can quote it to operators."""

    def get_results(self) -> dict[str, Any]:
        return {"requestId": _request_id(self)}


def expected(error: GraphQLError) -> bool:
    """Syntax, validation and typed errors are the client's to see; anything else is masked."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True
    # A scalar refusing a literal (`after: "x"` for a Long) is reported by validation on the
    # literal's node, with the parser's exception attached: the client's. (Errors of a
    # subscription's source have no path either, so the node decides, not the path.)
    return (
        error.path is None
        and bool(error.nodes)
        and all(isinstance(node, ValueNode) for node in error.nodes or ())
    )


def masked(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """What the client sees of an unexpected error: a generic one with the request id.

    The error itself is logged in full. An expected failure (bad id, missing object) raised
    where no resolver converted it, e.g. while reading a filter, keeps its message and code.
    """
    typed = as_error(error.original_error) if isinstance(error.original_error, Exception) else None
    if isinstance(typed, GraphQLError):
        return GraphQLError(
            typed.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=typed.extensions,
        )
    log.error(
        "graphql.unexpected_error",
        request_id=request_id,
        path=error.path,
        error=repr(error.original_error),
        exc_info=error.original_error,
    )
    return GraphQLError(
        f"Unexpected error; quote request id {request_id} to the operators.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL", "requestId": request_id},
    )


class MaskUnexpected(MaskErrors):
    """Replaces unexpected errors with a generic one carrying the request id (logged in full)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not expected(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, _request_id(self))


_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Operation names are chosen by clients; past this many distinct ones, the rest count as
#: "other" so that no client can grow the metrics without bound.
MAX_OPERATION_LABELS = 200
_labels: set[str] = set()


def operation_label(name: str | None) -> str:
    """The metric label of an operation name (bounded in number and form)."""
    if not name or not _OPERATION_NAME.match(name):
        return "anonymous" if not name else "other"
    if name not in _labels and len(_labels) >= MAX_OPERATION_LABELS:
        return "other"
    _labels.add(name)
    return name


class OperationMetrics(SchemaExtension):
    """Per-operation latency histogram (and an error counter)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = operation_label(context.operation_name)
        kind = context.operation_type.value if context.operation_type else "unknown"
        metrics.OPERATION_LATENCY.labels(name, kind).observe(time.perf_counter() - started)
        result = context.result
        if result is not None and getattr(result, "errors", None):
            metrics.OPERATION_ERRORS.labels(name).inc()


class SubscriptionsOverWebsockets(SchemaExtension):
    """A subscription sent over plain HTTP is the client's mistake, said as such."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        transport = getattr(context.context, "transport", "http")
        if context.operation_type is OperationType.SUBSCRIPTION and transport != "websocket":
            raise typed_error(
                "subscriptions run over a websocket (graphql-transport-ws) at this same path",
                "BAD_REQUEST",
            )
        yield
