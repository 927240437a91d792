"""The ASGI application: GraphQL over HTTP and websockets, health, readiness and metrics."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from tortoise import Tortoise, connections

from api.auth import Principal, authenticate, is_active, token_from_headers
from api.broker import Broker
from api.config import ApiConfig
from api.db import tortoise_config
from api.middleware import RequestContextMiddleware, request_id_of
from api.schema import build_schema
from api.schema.context import Context
from api.schema.extensions import expected, masked
from uis_compiler.compilers.options import CompileOptions

UNAUTHENTICATED = {
    "errors": [
        {
            "message": "a valid API key is required: send `Authorization: Bearer <key>` "
            "or `X-API-Key: <key>`",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}


class KeyCheckingTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws that checks the connection's key again before each operation.

    A socket is authenticated once, at `connection_init`; without this, a key revoked later
    would keep starting subscriptions on a socket opened before.
    """

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        principal = self.context.principal
        if principal is not None and not await is_active(principal.key_id):
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        await super().handle_subscribe(message)


class HeadwaterGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and websocket authentication."""

    graphql_transport_ws_handler_class = KeyCheckingTransportWS

    def __init__(self, config: ApiConfig, broker: Broker, compile_options: CompileOptions) -> None:
        super().__init__(
            build_schema(config),
            graphql_ide="graphiql" if config.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=config.cors_origins,
        )
        self.config = config
        self.broker = broker
        self.compile_options = compile_options

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            config=self.config,
            broker=self.broker,
            compile_options=self.compile_options,
            request_id=request_id_of(request.scope),
            transport="websocket" if isinstance(request, WebSocket) else "http",
            principal=request.scope.get("state", {}).get("principal"),
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # An exception escaping validation (Strawberry's depth limiter raises KeyError on an
        # unknown fragment) is turned into an error outside the schema extensions, so
        # MaskUnexpected never sees it: mask it here before it reaches the client.
        if result.errors:
            request_id = request_id_of(request.scope)
            result.errors = [
                error if expected(error) else masked(error, request_id) for error in result.errors
            ]
        return await super().process_result(request, result)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        token = token_from_headers(
            _text(params.get("Authorization") or params.get("authorization")),
            _text(params.get("X-API-Key") or params.get("apiKey") or params.get("api_key")),
        )
        principal = await authenticate(token) if token else context.principal
        if principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.principal = principal
        return {"requestId": context.request_id}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class AuthenticatedEndpoint:
    """Admits HTTP GraphQL requests with a valid key (the IDE page itself is open)."""

    def __init__(self, graphql: HeadwaterGraphQL) -> None:
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = await _principal(scope)
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
        elif scope["type"] == "http" and not _is_ide_page(scope):
            await JSONResponse(UNAUTHENTICATED, status_code=401)(scope, receive, send)
            return
        await self.graphql(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _principal(scope: Scope) -> Principal | None:
    headers = _headers(scope)
    return await authenticate(
        token_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    )


def _is_ide_page(scope: Scope) -> bool:
    headers = _headers(scope)
    # Decoded as Strawberry decodes it: `?%71uery=…` is a query too, and must not pass keyless.
    params = QueryParams(scope.get("query_string", b""))
    return (
        scope.get("method") == "GET"
        and "text/html" in headers.get("accept", "")
        and "query" not in params
    )


def create_app(config: ApiConfig, compile_options: CompileOptions | None = None) -> Starlette:
    """The Starlette app; its lifespan opens the database pool and starts the event broker."""
    broker = Broker(config.database_url)
    graphql = HeadwaterGraphQL(config, broker, compile_options or CompileOptions())
    endpoint = AuthenticatedEndpoint(graphql)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The global fallback lets request tasks see the context the lifespan task created.
        await Tortoise.init(
            config=tortoise_config(config.database_url, pool_size=config.pool_size),
            _enable_global_fallback=True,
        )
        await broker.start()
        app.state.broker = broker
        # Everything built so far (schema, ORM metadata, imported modules) lives as long as the
        # process: moving it out of the collector's sight keeps full collections short.
        gc.freeze()
        try:
            yield
        finally:
            await broker.stop()
            await Tortoise.close_connections()

    async def healthz(request: Request) -> Response:
        # The pid tells a supervisor (and the tests) which process answered.
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    async def readyz(request: Request) -> Response:
        checks = {"database": False, "broker": broker.connected.is_set()}
        with contextlib.suppress(Exception):
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = True
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        if await _principal(request.scope) is None:
            return JSONResponse(UNAUTHENTICATED, status_code=401)
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ],
        middleware=[
            Middleware(RequestContextMiddleware, extra_headers=config.extra_headers),
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            ),
            # Inside the two above (not Starlette's `max_body_size`, which wraps everything),
            # so a 413 carries the request id, the security headers and CORS headers too.
            Middleware(RequestBodyLimitMiddleware, max_body_size=config.max_body_bytes),
        ],
        lifespan=lifespan,
    )
