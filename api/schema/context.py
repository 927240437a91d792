"""Per-request state of a GraphQL operation: who calls, the loaders, and where things are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from api.auth import Principal
from api.broker import Broker
from api.config import ApiConfig
from api.ratelimit import KeyBudget
from api.schema.loaders import Loaders
from api.specworkers import SpecWorkers
from uis_compiler.compilers.options import CompileOptions


@dataclass
class Context:
    """Strawberry's context object; `connection_params` is filled on websockets."""

    config: ApiConfig
    broker: Broker
    compile_options: CompileOptions
    spec_workers: SpecWorkers
    request_id: str
    #: "http" or "websocket": subscriptions need the latter.
    transport: str = "http"
    principal: Principal | None = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    #: The key budgets requests spend from (none: no rate limit, as in in-process benchmarks).
    budget: KeyBudget | None = None
    #: Strawberry's sub-response of an HTTP request (a 429 sets its status and Retry-After).
    response: Any = None


Info = StrawberryInfo[Context, None]
