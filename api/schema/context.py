"""Per-request state of a GraphQL operation: who calls, the loaders, and where things are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from api.auth import Principal
from api.broker import Broker
from api.config import ApiConfig
from api.schema.loaders import Loaders
from uis_compiler.compilers.options import CompileOptions


@dataclass
class Context:
    """Strawberry's context object; `connection_params` is filled on websockets."""

    config: ApiConfig
    broker: Broker
    compile_options: CompileOptions
    request_id: str
    #: "http" or "websocket": subscriptions need the latter.
    transport: str = "http"
    principal: Principal | None = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None


Info = StrawberryInfo[Context, None]
