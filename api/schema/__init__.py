"""The GraphQL schema: queries, mutations and subscriptions of every domain, with the guards."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.config import ApiConfig
from api.schema.apikeys import ApiKeyMutations, ApiKeyQueries
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
    "Query", (ProviderQueries, RunQueries, SpecQueries, DashboardQueries, ApiKeyQueries)
)
Mutation = merge_types("Mutation", (ProviderMutations, RunMutations, ApiKeyMutations))


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
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        RequestId,
        OperationMetrics,
        lambda: QueryDepthLimiter(max_depth=config.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=config.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=config.max_tokens),
        ParserCache,
        ValidationCache,
        SubscriptionsOverWebsockets,
        MaskUnexpected,
    ]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscriptions,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
