"""A small paged JSON API of our own on loopback (uvicorn in a thread) that records every request.

It speaks each pagination style the ingest job follows (offset/limit, page/per_page, a token
cursor, next_url), an OAuth2 client-credentials token endpoint with a route that accepts only
its live tokens, and scripted failures.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from standins import serving
from uis_compiler import validate
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.grants import DEFAULT_GRANTS, Grants
from uis_compiler.plan import SparkPlan

#: Records per page of the cursor and next_url routes (they choose, as such APIs do).
CURSOR_PAGE = 2
#: Records per page of the page route when the client sends no per_page.
DEFAULT_PER_PAGE = 3
#: A scripted body replaced by an error quoting the request's Authorization header.
ECHO_AUTH = b"<echo authorization>"
OAUTH_CLIENT = ("client-7f3a", "client-secret-91c2e")


def item(index: int) -> dict[str, Any]:
    """Record ``index`` of every paged route."""
    return {"id": index, "name": f"item-{index}"}


def items(start: int, stop: int, total: int) -> list[dict[str, Any]]:
    """Records start..stop-1 of a route serving ``total`` records."""
    return [item(i) for i in range(max(0, start), min(stop, total))]


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Scripted:
    """A response to send instead of the route's own."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"


class PagedApi:
    """The app's state: requests seen, scripted responses, tokens issued, the record set."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.scripts: dict[str, list[Scripted]] = {}
        self.tokens: list[str] = []
        self.records: list[dict[str, Any]] = [item(i) for i in range(3)]
        #: The tokens' `expires_in`, which /protected enforces (None: sent without one).
        self.token_lifetime: float | None = 3600.0
        #: Requests /protected accepts per token (None: any number), a limit it never tells.
        self.token_uses: int | None = None
        #: /protected answers none of its requests until this many wait (0: at once).
        self.pair_up = 0
        self._issued: dict[str, float] = {}
        self._uses: dict[str, int] = {}
        self._waiting: list[asyncio.Future[None]] = []
        #: /held answers its held pages once this is set; `held_served` counts those answered.
        self.release = threading.Event()
        self.held_served = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget requests, scripts and tokens, and the token rules (the record set stays)."""
        with self._lock:
            self.seen.clear()
            self.scripts.clear()
            self.tokens.clear()
            self._issued.clear()
            self._uses.clear()
            self.token_lifetime = 3600.0
            self.token_uses = None
            self.pair_up = 0
            self.release = threading.Event()
            self.held_served = 0

    def script(self, name: str, *responses: Scripted) -> None:
        """``/script/NAME`` answers these in turn, then 200 with one record."""
        with self._lock:
            self.scripts[name] = list(responses)

    def requests_to(self, prefix: str) -> list[Seen]:
        """The requests whose path starts with ``prefix``, in arrival order."""
        return [seen for seen in self.seen if seen.path.startswith(prefix)]

    def app(self) -> Any:
        """The ASGI app: the routes, behind a layer that records each request first."""
        routes = [
            Route("/offset/{total:int}", self._offset),
            Route("/page/{start:int}/{total:int}", self._page),
            Route("/cursor/{total:int}", self._cursor),
            Route("/next/{style}/{total:int}", self._next),
            Route("/shape/{kind}", self._shape),
            Route("/script/{name}", self._script, methods=["GET", "POST"]),
            Route("/tickers/{ticker:path}", self._ticker),
            Route("/records", self._records),
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/protected/{total:int}", self._protected),
            Route("/held/{total:int}/{hold_from:int}", self._held),
        ]
        inner = Starlette(routes=routes)

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            with self._lock:
                self.seen.append(
                    Seen(scope["method"], scope["path"], scope["raw_path"].decode(), query,
                         headers, body)
                )  # fmt: skip
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if replayed:
                    return {"type": "http.disconnect"}
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await inner(scope, replay, send)

        return recording

    async def _offset(self, request: Request) -> Response:
        total = request.path_params["total"]
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", str(total)))
        return JSONResponse({"data": items(offset, offset + limit, total)})

    async def _held(self, request: Request) -> Response:
        """Like /offset/TOTAL, but pages from offset HOLD_FROM on wait for ``release``."""
        total, hold_from = request.path_params["total"], request.path_params["hold_from"]
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", str(total)))
        if offset >= hold_from:
            release = self.release
            # Waited for off the server's loop: the other requests are answered meanwhile.
            await asyncio.to_thread(release.wait, 60)
            with self._lock:
                self.held_served += 1
        return JSONResponse({"data": items(offset, offset + limit, total)})

    async def _page(self, request: Request) -> Response:
        start, total = request.path_params["start"], request.path_params["total"]
        page = int(request.query_params.get("page", str(start)))
        size = int(request.query_params.get("per_page", str(DEFAULT_PER_PAGE)))
        first = (page - start) * size
        return JSONResponse({"data": items(first, first + size, total)})

    async def _cursor(self, request: Request) -> Response:
        total = request.path_params["total"]
        cursor = request.query_params.get("cursor", "c0")
        first = int(cursor.removeprefix("c"))
        # The client may choose the page size, as such APIs allow (`limit`).
        following = first + int(request.query_params.get("limit", str(CURSOR_PAGE)))
        meta = {"next": f"c{following}" if following < total else None}
        return JSONResponse({"items": items(first, following, total), "meta": meta})

    async def _next(self, request: Request) -> Response:
        style, total = request.path_params["style"], request.path_params["total"]
        after = int(request.query_params.get("after", "0"))
        limit = request.query_params.get("limit")
        following = after + int(limit or CURSOR_PAGE)
        body: dict[str, Any] = {"results": items(after, following, total)}
        if following < total:
            # Like Polygon's, the next URL carries the page size on.
            path = f"/next/{style}/{total}?after={following}" + (f"&limit={limit}" if limit else "")
            if style == "absolute":
                body["next_url"] = f"{str(request.base_url).rstrip('/')}{path}"
            elif style == "relative":
                body["next_url"] = path
            else:
                # Relative to the current document: the query alone.
                body["next_url"] = f"?after={following}"
        return JSONResponse(body)

    async def _shape(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        records = items(0, 3, 3)
        if kind == "list":
            return JSONResponse(records)
        if kind == "one":
            return JSONResponse({"data": records[0]})
        return JSONResponse({"data": records})

    async def _script(self, request: Request) -> Response:
        with self._lock:
            queue = self.scripts.get(request.path_params["name"], [])
            scripted = queue.pop(0) if queue else None
        if scripted is None:
            return JSONResponse({"data": [item(1)]})
        body = scripted.body
        if body == ECHO_AUTH:
            # Like a source that quotes the credential it refused.
            body = f'{{"error": "refused {request.headers.get("authorization")}"}}'.encode()
        headers = {"content-type": "application/json", **scripted.headers}
        return Response(body, scripted.status, headers=headers)

    async def _ticker(self, request: Request) -> Response:
        return JSONResponse({"data": [{"ticker": request.path_params["ticker"]}]})

    async def _records(self, request: Request) -> Response:
        return JSONResponse({"data": self.records})

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        client = (form.get("client_id"), form.get("client_secret"))
        if form.get("grant_type") != "client_credentials" or client != OAUTH_CLIENT:
            return JSONResponse({"error": "invalid_client"}, 401)
        with self._lock:
            token = f"access-{len(self.tokens)}-{uuid.uuid4().hex}"
            self.tokens.append(token)
            self._issued[token] = time.monotonic()
            lifetime = self.token_lifetime
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if lifetime is not None:
            answer["expires_in"] = lifetime
        return JSONResponse(answer)

    def _live(self, authorization: str | None) -> bool:
        """Whether a bearer token was issued here, has not expired and has uses left (one used)."""
        token = (authorization or "").removeprefix("Bearer ")
        with self._lock:
            issued = self._issued.get(token)
            if issued is None:
                return False
            if self.token_lifetime is not None and time.monotonic() - issued >= self.token_lifetime:
                return False
            self._uses[token] = used = self._uses.get(token, 0) + 1
            return self.token_uses is None or used <= self.token_uses

    async def _protected(self, request: Request) -> Response:
        """Pages like /page/1/TOTAL, for live tokens only (checked on arrival); else 401."""
        live = self._live(request.headers.get("authorization"))
        if self.pair_up:
            # Held until enough requests wait: concurrent chains then meet each answer at once.
            waiting = asyncio.get_running_loop().create_future()
            self._waiting.append(waiting)
            if len(self._waiting) >= self.pair_up:
                for future in self._waiting:
                    if not future.done():
                        future.set_result(None)
                self._waiting.clear()
            try:
                await asyncio.wait_for(asyncio.shield(waiting), timeout=10)
            except TimeoutError:
                # Answered alone: the test that wanted a pair then sees a second refresh.
                if waiting in self._waiting:
                    self._waiting.remove(waiting)
        if not live:
            return JSONResponse({"error": "invalid_token"}, 401)
        total = request.path_params["total"]
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("per_page", str(DEFAULT_PER_PAGE)))
        first = (page - 1) * size
        return JSONResponse({"data": items(first, first + size, total)})


@dataclass
class RunningApi:
    """A started server: its base URL and its state."""

    base_url: str
    api: PagedApi


@contextmanager
def serve_asgi(app: Any, timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port from a background thread; yields its URL."""
    sock = serving.bind()
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="off", access_log=False, log_config=None, ws="none",
            timeout_keep_alive=30,
        )
    )  # fmt: skip
    stop = serving.start(server, sock, "the loopback server", timeout)
    try:
        yield serving.url(sock)
    finally:
        stop()


@contextmanager
def serve_in_thread(api: PagedApi) -> Iterator[RunningApi]:
    """Serve ``api`` on a free loopback port from a background thread."""
    with serve_asgi(api.app()) as url:
        yield RunningApi(url, api)


def compile_plan(
    text: str, options: CompileOptions | None = None, grants: Grants = DEFAULT_GRANTS
) -> SparkPlan:
    """The Spark plan of a UIS document that must be valid."""
    result = validate(text, grants=grants)
    assert result.valid and result.spec is not None, result.errors
    return compile_spark(result.spec, options).plan


#: The /records endpoint, its records mapped to `id` and `name`.
ITEMS_ENDPOINT: dict[str, Any] = {
    "name": "items",
    "path": "/records",
    "response_path": "$.data",
    "field_mapping": {"id": "id", "name": "name"},
}


def items_plan(base_url: str, sink: dict[str, Any], grants: Grants = DEFAULT_GRANTS) -> SparkPlan:
    """The plan that reads /records into ``sink``."""
    return compile_plan(spec_text(base_url, ITEMS_ENDPOINT, {"sinks": [sink]}), grants=grants)


def basic(username: str, password: str) -> str:
    """The Authorization header value of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def spec_text(
    base_url: str,
    endpoint: dict[str, Any],
    provider: dict[str, Any] | None = None,
    top: dict[str, Any] | None = None,
) -> str:
    """A minimal valid UIS 1.2 document with one endpoint; ``provider`` and ``top`` add or override."""
    document = {
        "version": "1.2",
        "name": "paged_api",
        "created_by": "tests",
        **(top or {}),
        "provider": {
            "name": "paged",
            "display_name": "Paged API",
            "provider_type": "rest_api",
            "base_url": base_url,
            "tenant_id": "default",
            "owner": "tests",
            "endpoints": [endpoint],
            "sinks": [{"type": "iceberg", "table_name": "paged.items", "config": {}}],
            **(provider or {}),
        },
    }
    return yaml.safe_dump(document, sort_keys=False)
