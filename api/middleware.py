"""Request context: a request id on every request and response, security headers, access log."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("api.access")
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "cross-origin-resource-policy": "same-origin",
}
#: JSON responses need nothing from anywhere; the GraphiQL page is HTML and is left alone.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def request_id_of(scope: MutableMapping[str, Any]) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RequestContextMiddleware:
    """Pure ASGI (so websockets pass through untouched apart from the id)."""

    def __init__(self, app: ASGIApp, extra_headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.extra = {k.lower(): v for k, v in (extra_headers or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _GIVEN_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = dict(headers).get(b"content-type", b"")
                added = {"x-request-id": request_id, **SECURITY_HEADERS, **self.extra}
                if not content_type.startswith(b"text/html"):
                    added["content-security-policy"] = API_CSP
                for name, value in added.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                if scope["type"] == "http":
                    log.info(
                        "request",
                        method=scope.get("method"),
                        path=scope.get("path"),
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    )
