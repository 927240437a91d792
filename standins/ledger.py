"""A payments-ledger API: the tests' second source, unlike Polygon in every way that matters.

`GET /v1/transactions?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=N[&cursor=TOKEN]` with the key in an
`X-Api-Key` header answers `{"data": [...], "has_more": bool, "next_cursor": TOKEN | null}`:
opaque token cursors (not next URLs), a page size the client picks (at most 100), and every
``throttle_every``-th request refused with 429 and `Retry-After: 1`, as a plan's request budget
would. Transactions are deterministic (`transactions(start, end)` says what is served), so
tests can assert exact rows. `GET /_stats` counts requests by status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standins import serving

MAX_LIMIT = 100
MERCHANTS = ("acme", "globex", "initech", "umbrella", "hooli")


def transactions(start: date, end: date) -> list[dict[str, Any]]:
    """Every transaction booked from ``start`` to ``end`` (inclusive), in ledger order."""
    found: list[dict[str, Any]] = []
    day = start
    while day <= end:
        digest = hashlib.blake2b(day.isoformat().encode(), digest_size=8).digest()
        for n in range(2 + digest[0] % 4):
            found.append(
                {
                    "id": f"tx_{day:%Y%m%d}_{n:02d}",
                    "booked_on": day.isoformat(),
                    "amount_cents": 100 + (digest[1 + n % 7] * 37 + n * 11) % 90_000,
                    "currency": "EUR" if digest[2] % 2 else "USD",
                    "merchant": {"name": MERCHANTS[(digest[3] + n) % len(MERCHANTS)]},
                }
            )
        day += timedelta(days=1)
    return found


@dataclass
class Ledger:
    """The server's state: accepted keys, the throttle, and what it answered."""

    keys: tuple[str, ...] = ("ledger-key-4f1c",)
    throttle_every: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    _served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/transactions", self._transactions),
                Route("/_stats", self._stats),
            ]
        )

    def _answer(self, status: int, body: dict[str, Any], **headers: str) -> Response:
        with self._lock:
            self.statuses[status] += 1
        return JSONResponse(body, status, headers=headers)

    async def _transactions(self, request: Request) -> Response:
        if request.headers.get("x-api-key") not in self.keys:
            return self._answer(401, {"error": {"code": "unauthorized"}})
        with self._lock:
            self._served += 1
            throttled = self.throttle_every > 0 and self._served % self.throttle_every == 0
        if throttled:
            return self._answer(429, {"error": {"code": "rate_limited"}}, **{"Retry-After": "1"})
        query = request.query_params
        try:
            start = date.fromisoformat(query["from"])
            end = date.fromisoformat(query["to"])
            limit = min(MAX_LIMIT, int(query.get("limit", "10")))
            offset = _offset(query.get("cursor"))
        except (KeyError, ValueError):
            return self._answer(400, {"error": {"code": "bad_request"}})
        booked = transactions(start, end)
        page = booked[offset : offset + limit]
        more = offset + limit < len(booked)
        cursor = _cursor(offset + limit) if more else None
        return self._answer(200, {"data": page, "has_more": more, "next_cursor": cursor})

    async def _stats(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({str(k): v for k, v in sorted(self.statuses.items())})


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(cursor)
    return offset


@dataclass(frozen=True)
class RunningLedger:
    base_url: str
    ledger: Ledger

    @property
    def key(self) -> str:
        return self.ledger.keys[0]


@contextmanager
def serve_in_thread(ledger: Ledger | None = None) -> Iterator[RunningLedger]:
    """The ledger on a free loopback port, served from a background thread."""
    state = ledger or Ledger()
    sock = serving.bind()
    server = uvicorn.Server(
        uvicorn.Config(state.app(), lifespan="off", access_log=False, log_config=None, ws="none")
    )
    stop = serving.start(server, sock, "ledger")
    try:
        yield RunningLedger(serving.url(sock), state)
    finally:
        stop()
