"""Schema extensions: request ids on every response, masked unexpected errors, metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from api import metrics

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
    return original is None or isinstance(original, GraphQLError)


class MaskUnexpected(MaskErrors):
    """Replaces unexpected errors with a generic one carrying the request id (logged in full)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not expected(error))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = _request_id(self)
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


class OperationMetrics(SchemaExtension):
    """Per-operation latency histogram (and an error counter)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = context.operation_name or "anonymous"
        kind = context.operation_type.value if context.operation_type else "unknown"
        metrics.OPERATION_LATENCY.labels(name, kind).observe(time.perf_counter() - started)
        result = context.result
        if result is not None and getattr(result, "errors", None):
            metrics.OPERATION_ERRORS.labels(name).inc()
