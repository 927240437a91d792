"""What the API needs to know about its deployment; the composition root builds it from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from uis_compiler.grants import DEFAULT_GRANTS, Grants


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Limits, switches and addresses of one API process."""

    #: May carry the database password: kept out of the config's repr.
    database_url: str = field(repr=False)
    pool_size: int = 20
    graphiql: bool = True
    introspection: bool = True
    cors_origins: tuple[str, ...] = ("http://127.0.0.1:3000", "http://localhost:3000")
    max_body_bytes: int = 1_048_576
    max_page_size: int = 200
    default_page_size: int = 50
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    #: `totalCount` stops counting here and reports "at least" (PEERS.md: "1000+").
    total_count_cap: int = 1000
    #: Subscriptions with no event are kept alive with this interval (seconds).
    keep_alive_seconds: float = 15.0
    #: Where spec compilation (compileSpec, stored plans) points: catalog and Spark settings.
    compile_catalog_uri: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: What each tenant's secret references may read: specs are validated against it.
    grants: Grants = DEFAULT_GRANTS
    #: The most fields one operation may resolve, estimated before it runs from its `first:`
    #: arguments and nesting (a field under `runs(first: 200)` counts 200 times).
    max_query_cost: int = 5_000
    #: Each key's budget of estimated fields per minute (a request costs at least 1); past it,
    #: HTTP 429 with Retry-After. One budget per key and API process.
    rate_limit_per_minute: int = 1_200_000
    #: Longest list a request's variables (or a filter) may hold, checked before any of it is
    #: read into objects.
    max_list_items: int = 100
    #: Operations one websocket may have open at once, and subscriptions one key may hold
    #: across all its sockets on this process.
    max_subscriptions_per_socket: int = 20
    max_subscriptions_per_key: int = 100
    #: How often live sockets' keys are checked again: a revoked key's sockets close within it.
    key_recheck_seconds: float = 2.0
    #: Processes validating and compiling specs for validateSpec and compileSpec (off the
    #: event loop and out of its GIL); the spec text one request may send them in all.
    spec_workers: int = 1
    max_spec_bytes: int = 1_048_576
