"""The ASGI application: GraphQL over HTTP and websockets, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncGenerator, AsyncIterator
from json import JSONDecodeError
from typing import Any, cast

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
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from tortoise import Tortoise, connections

from api.auth import Principal, authenticate, is_active, token_from_headers
from api.broker import Broker
from api.config import ApiConfig
from api.db import tortoise_config
from api.middleware import RequestContextMiddleware, request_id_of
from api.ratelimit import KeyBudget
from api.schema import build_schema
from api.schema.context import Context
from api.schema.errors import typed_error
from api.schema.extensions import expected, masked
from api.sockets import LiveSockets
from api.specworkers import SpecWorkers
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
    """graphql-transport-ws with the key checked again, and its subscriptions counted.

    A socket is authenticated once, at `connection_init`; without the checks here, a key
    revoked later would keep its subscriptions and start new ones on a socket opened before.
    The socket registers with the process's LiveSockets, which closes it when its key is
    revoked and caps the subscriptions one key holds across its sockets.
    """

    view: HeadwaterGraphQL

    @property
    def _key_id(self) -> int | None:
        principal = self.context.principal
        return principal.key_id if principal is not None else None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._key_id is not None:
            self.view.sockets.add(self._key_id, self)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        key_id = self._key_id
        if key_id is not None and not await is_active(key_id):
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        key_id = self._key_id
        if key_id is None:
            await super().run_operation(operation)
            return
        sockets = self.view.sockets
        if not sockets.acquire(key_id):
            error = typed_error(
                f"this key holds {sockets.per_key} live operations already (the most one key "
                "may hold): complete one before starting another",
                "LIMIT_EXCEEDED",
                limit=sockets.per_key,
            )
            self.operations.pop(operation.id, None)
            await self.send_message(
                {"id": operation.id, "type": "error", "payload": [error.formatted]}
            )
            return
        try:
            await super().run_operation(operation)
        finally:
            sockets.release(key_id)

    async def revoke(self) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may have gone already
            await self.websocket.close(code=4403, reason="Forbidden: the key was revoked")

    async def shutdown(self) -> None:
        if self._key_id is not None:
            self.view.sockets.remove(self._key_id, self)
        await super().shutdown()


class LimitedWebSocket(ASGIWebSocketAdapter):
    """Strawberry's websocket adapter with a size limit on each message, like HTTP bodies."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        limit = cast("HeadwaterGraphQL", self.view).config.max_body_bytes
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await self.ws.receive_text()
            except KeyError as exc:  # a binary frame
                raise NonTextMessageReceived from exc
            except WebSocketDisconnect:
                return
            if len(text) > limit or len(text.encode()) > limit:
                # 1009: "message too big" (RFC 6455), before any of it is decoded.
                await self.ws.close(code=1009, reason=f"messages are limited to {limit} bytes")
                return
            try:
                yield self.view.decode_json(text)
            except JSONDecodeError as exc:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from exc


class HeadwaterGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and websocket authentication."""

    graphql_transport_ws_handler_class = KeyCheckingTransportWS
    websocket_adapter_class = LimitedWebSocket

    def __init__(self, config: ApiConfig, broker: Broker, compile_options: CompileOptions) -> None:
        super().__init__(
            build_schema(config),
            graphql_ide="graphiql" if config.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=config.cors_origins,
        )
        self.max_subscriptions_per_connection = config.max_subscriptions_per_socket
        self.config = config
        self.broker = broker
        self.compile_options = compile_options
        self.spec_workers = SpecWorkers(config.spec_workers)
        self.budget = KeyBudget(config.rate_limit_per_minute)
        self.sockets = LiveSockets(config.max_subscriptions_per_key, config.key_recheck_seconds)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        websocket = isinstance(request, WebSocket)
        return Context(
            config=self.config,
            broker=self.broker,
            compile_options=self.compile_options,
            spec_workers=self.spec_workers,
            request_id=request_id_of(request.scope),
            transport="websocket" if websocket else "http",
            principal=request.scope.get("state", {}).get("principal"),
            budget=self.budget,
            response=None if websocket else response,
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
            wait = self.graphql.budget.exhausted(principal.key_id)
            if wait is not None and scope["type"] == "http":
                # Refused before the body is even read: an exhausted key costs next to nothing.
                await _rate_limited(wait, self.graphql.budget)(scope, receive, send)
                return
        elif scope["type"] == "http" and not _is_ide_page(scope):
            await JSONResponse(UNAUTHENTICATED, status_code=401)(scope, receive, send)
            return
        await self.graphql(scope, receive, send)


def _rate_limited(wait: float, budget: KeyBudget) -> Response:
    body = {
        "errors": [
            {
                "message": f"this key's request budget is spent; retry in {int(wait)} s",
                "extensions": {"code": "RATE_LIMITED", "retryAfter": int(wait)},
            }
        ]
    }
    headers = {
        "Retry-After": str(int(wait)),
        "X-RateLimit-Limit": str(budget.item.amount),
        "X-RateLimit-Remaining": "0",
    }
    return JSONResponse(body, status_code=429, headers=headers)


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
        watcher = asyncio.create_task(graphql.sockets.watch(), name="api.sockets.watch")
        graphql.spec_workers.start()
        # Everything built so far (schema, ORM metadata, imported modules) lives as long as the
        # process: moving it out of the collector's sight keeps full collections short.
        gc.freeze()
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await graphql.spec_workers.close()
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
                expose_headers=[
                    "X-Request-ID",
                    "Retry-After",
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                ],
                max_age=600,
            ),
            # Inside the two above (not Starlette's `max_body_size`, which wraps everything),
            # so a 413 carries the request id, the security headers and CORS headers too.
            Middleware(RequestBodyLimitMiddleware, max_body_size=config.max_body_bytes),
        ],
        lifespan=lifespan,
    )
