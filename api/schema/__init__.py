"""The GraphQL schema: queries, mutations and subscriptions of every domain, with the guards."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
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

from api.config import ApiConfig
from api.schema.apikeys import ApiKeyMutations, ApiKeyQueries
from api.schema.dashboard import DashboardQueries
from api.schema.extensions import MaskUnexpected, OperationMetrics, RequestId
from api.schema.providers import ProviderMutations, ProviderQueries
from api.schema.runs import RunMutations, RunQueries
from api.schema.scalars import SCALARS
from api.schema.specs import SpecQueries
from api.schema.subscriptions import Subscriptions

Query = merge_types(
    "Query", (ProviderQueries, RunQueries, SpecQueries, DashboardQueries, ApiKeyQueries)
)
Mutation = merge_types("Mutation", (ProviderMutations, RunMutations, ApiKeyMutations))


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
        MaskUnexpected,
    ]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscriptions,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
