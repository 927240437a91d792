"""The GraphQL schema: queries, mutations and subscriptions of every domain, with the guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.config import ApiConfig
from api.schema.apikeys import ApiKeyMutations, ApiKeyQueries
from api.schema.backfills import BackfillMutations, BackfillQueries
from api.schema.cost import QueryCost
from api.schema.dashboard import DashboardQueries
from api.schema.extensions import (
    MaskUnexpected,
    OperationMetrics,
    RequestId,
    SubscriptionsOverWebsockets,
)
from api.schema.providers import ProviderMutations, ProviderQueries
from api.schema.runs import RunMutations, RunQueries
from api.schema.scalars import SCALARS
from api.schema.specs import SpecQueries
from api.schema.subscriptions import Subscriptions

Query = merge_types(
    "Query",
    (ProviderQueries, RunQueries, BackfillQueries, SpecQueries, DashboardQueries, ApiKeyQueries),
)
Mutation = merge_types(
    "Mutation", (ProviderMutations, RunMutations, BackfillMutations, ApiKeyMutations)
)


class EventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with a per-event field cache for subscriptions.

    graphql-core 3.3 builds each subscription event's executor as a shallow copy that shares the
    parent's field-collection cache, keyed by the identity of per-event lists: every event adds
    an entry that is never hit again, so a long subscription grows the heap until full garbage
    collections pause every subscriber for hundreds of milliseconds. A fresh cache per event
    keeps memory flat (the cache only pays off within one event's list anyway).
    """

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


class Schema(strawberry.Schema):
    """Strawberry's schema, without its default logging of every error.

    Expected errors (a bad argument, a missing scope) are the client's to read, not operators'
    news; unexpected ones are logged once, in full, by MaskUnexpected.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(config: ApiConfig) -> strawberry.Schema:
    """The schema with this deployment's limits."""
    # The limiters' validation rules are built once: new rule classes per request would make
    # every request miss the validation cache.
    rules = [
        *QueryDepthLimiter(max_depth=config.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=config.max_aliases).validation_rules,
    ]
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        RequestId,
        OperationMetrics,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=config.max_tokens),
        ParserCache,
        ValidationCache,
        SubscriptionsOverWebsockets,
        QueryCost,
        MaskUnexpected,
    ]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        execution_context_class=EventExecutionContext,
        query=Query,
        mutation=Mutation,
        subscription=Subscriptions,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
