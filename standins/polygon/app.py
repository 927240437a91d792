"""The Starlette application: auth, rate limit and faults in front of the two endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from standins.polygon.aggs import AggsRequest, aggs_page
from standins.polygon.config import Endpoint, FaultConfig, SimConfig
from standins.polygon.envelopes import error_body, json_body, request_id
from standins.polygon.exceptions import RequestError
from standins.polygon.faults import FaultInjector
from standins.polygon.ratelimit import RateLimiter
from standins.polygon.stats import Stats
from standins.polygon.tickers import tickers_page
from standins.polygon.universe import universe

JSON = "application/json"
#: Closes a request's connection with a TCP reset; False when it cannot (then the response
#: is cut short after its headers instead).
Aborter = Callable[[Scope], bool]
log = logging.getLogger("standins.polygon")


@dataclass
class SimState:
    """The mutable state of one server: counters, buckets and the fault schedule."""

    config: SimConfig
    abort: Aborter | None = None
    stats: Stats = field(default_factory=Stats)
    limiter: RateLimiter | None = None
    faults: FaultInjector = field(init=False)
    keys: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.faults)
        self.keys = frozenset(self.config.keys)
        if self.config.rate_limit is not None:
            self.limiter = RateLimiter(self.config.rate_limit)


def create_app(config: SimConfig, abort: Aborter | None = None) -> Starlette:
    """The local Polygon server's ASGI application."""
    state = SimState(config, abort)
    # Built now rather than by the first reference-tickers request.
    universe(config.universe_size)

    async def aggs(request: Request) -> Response:
        path = request.path_params
        ticker = path["ticker"]
        spec = AggsRequest(
            ticker,
            path["multiplier"],
            path["timespan"],
            path["start"],
            path["end"],
            dict(request.query_params),
        )

        def page(rid: str) -> bytes:
            body, count = aggs_page(
                spec,
                fractional_volume=ticker in config.fractional_volume,
                base_url=_base_url(request),
                request_id=rid,
            )
            state.stats.bars += count
            return body

        return await _serve(state, request, "aggs", ticker, page)

    async def tickers(request: Request) -> Response:
        def page(rid: str) -> bytes:
            return tickers_page(
                dict(request.query_params),
                universe_size=config.universe_size,
                base_url=_base_url(request),
                request_id=rid,
            )

        return await _serve(state, request, "tickers", None, page)

    routes = [
        Route("/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{start}/{end}", aggs),
        Route("/v3/reference/tickers", tickers),
        Route("/healthz", _healthz),
    ]
    if config.control:
        routes += _control_routes(state)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.sim = state
    return app


_FORBIDDEN = (
    "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"
)
_OVER_RATE = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your subscription "
    "to continue. https://polygon.io/pricing"
)


async def _serve(
    state: SimState,
    request: Request,
    endpoint: Endpoint,
    ticker: str | None,
    page: Callable[[str], bytes],
) -> Response:
    """Check key, rate and entitlement, apply the request's fault, answer with ``page``."""
    stats = state.stats
    stats.requests += 1
    stats.endpoints[endpoint] += 1
    if ticker is not None:
        stats.tickers[ticker] += 1
    rid = request_id()
    key = _api_key(request)
    if key is None:
        return _error(state, 401, "ERROR", rid, "API Key was not provided")
    if key not in state.keys:
        return _error(state, 401, "ERROR", rid, "Unknown API Key")
    if state.limiter is not None:
        wait = state.limiter.acquire(key)
        if wait:
            response = _error(state, 429, "ERROR", rid, _OVER_RATE)
            response.headers["Retry-After"] = str(wait)
            return response
    if ticker is not None and ticker in state.config.forbidden:
        return _error(state, 403, "NOT_AUTHORIZED", rid, _FORBIDDEN)
    fault = state.faults.decide(endpoint, ticker)
    if fault.delay_s:
        stats.faults["slow"] += 1
        await asyncio.sleep(fault.delay_s)
    if fault.failure == "error":
        stats.faults["error"] += 1
        return _error(state, fault.status, "ERROR", rid, f"injected fault: HTTP {fault.status}")
    if fault.failure == "reset":
        stats.faults["reset"] += 1
        return await _reset(state, request)
    try:
        body = page(rid)
    except RequestError as exc:
        return _error(state, 400, "ERROR", rid, str(exc))
    if fault.failure == "malformed":
        stats.faults["malformed"] += 1
        # Cut in half: the right Content-Length and a plausible start, but not JSON.
        body = body[: len(body) // 2]
    return _ok(state, body)


def _api_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return request.query_params.get("apiKey") or None


async def _reset(state: SimState, request: Request) -> Response:
    log.debug("injected a connection reset on %s", request.url.path)
    if state.abort is not None and state.abort(request.scope):
        # Let the event loop notice the closed connection, so nothing is written after it.
        await _disconnected(request)
        return Response(status_code=204)
    return _CutShort()


async def _disconnected(request: Request) -> None:
    async def drain() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(drain(), timeout=1.0)
    except TimeoutError:
        log.warning("the reset connection did not report its disconnection")


class _CutShort(Response):
    """Headers promising a body that never comes (a reset where no socket can be reached)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
        )


def _ok(state: SimState, body: bytes) -> Response:
    state.stats.statuses[200] += 1
    return Response(body, media_type=JSON)


def _error(state: SimState, status: int, label: str, rid: str, message: str) -> Response:
    state.stats.statuses[status] += 1
    return Response(error_body(label, rid, message), status_code=status, media_type=JSON)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _healthz(_: Request) -> Response:
    return Response(b"ok", media_type="text/plain")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    label = "NOT_FOUND" if status == 404 else "ERROR"
    body = error_body(label, request_id(), f"{request.method} {request.url.path}: HTTP {status}")
    return Response(body, status_code=status, media_type=JSON)


def _control_routes(state: SimState) -> list[Route]:
    async def stats(_: Request) -> Response:
        return Response(json_body(state.stats.to_mapping()), media_type=JSON)

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                config = FaultConfig.from_mapping(json.loads(await request.body()))
            except ValueError as exc:  # bad JSON, or a SimConfigError
                return Response(
                    error_body("ERROR", request_id(), str(exc)), status_code=400, media_type=JSON
                )
            state.faults.configure(config)
            log.info("faults set to %s", config)
        return Response(json_body(state.faults.config.to_mapping()), media_type=JSON)

    async def reset(_: Request) -> Response:
        state.stats.reset()
        state.faults.restart()
        if state.limiter is not None:
            state.limiter.reset()
        return Response(json_body(state.stats.to_mapping()), media_type=JSON)

    return [
        Route("/_control/stats", stats),
        Route("/_control/faults", faults, methods=["GET", "POST"]),
        Route("/_control/reset", reset, methods=["POST"]),
    ]
