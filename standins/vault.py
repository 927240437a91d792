"""HashiCorp Vault's KV version 2 read API: `GET /v1/MOUNT/data/PATH` with `X-Vault-Token`.

Answers like Vault: 403 for a wrong token, 404 for a missing secret, the secret under
`data.data` with its metadata. Two mounts answer as a misconfigured address would: `html`
(a sign-in page, 200) and `odd` (JSON of other shapes, by path: `null-data`, `kv1`, `list`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from standins import serving


class Vault:
    """Secrets by (mount, path); the one token that may read them; the tokens it was sent."""

    def __init__(self, token: str, values: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self.token = token
        self.values = dict(values)
        self.tokens_seen: list[str | None] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/html/data/{path:path}", self._html),
                Route("/v1/odd/data/{path:path}", self._odd),
                Route("/v1/{mount}/data/{path:path}", self._read),
            ]
        )

    async def _read(self, request: Request) -> Response:
        token = request.headers.get("x-vault-token")
        self.tokens_seen.append(token)
        if token != self.token:
            return JSONResponse({"errors": ["permission denied"]}, 403)
        key = (request.path_params["mount"], request.path_params["path"])
        if key not in self.values:
            return JSONResponse({"errors": []}, 404)
        data = {"data": dict(self.values[key]), "metadata": {"version": 3, "destroyed": False}}
        return JSONResponse({"request_id": "r-1", "data": data, "lease_duration": 0})

    async def _html(self, request: Request) -> Response:
        return PlainTextResponse("<html>sign in</html>", media_type="text/html")

    async def _odd(self, request: Request) -> Response:
        shapes: dict[str, Any] = {
            "null-data": {"data": None},
            "kv1": {"data": {"api_key": "kv1-value"}},
            "list": ["not", "an", "object"],
        }
        return JSONResponse(shapes[request.path_params["path"]])


@contextmanager
def serve_in_thread(vault: Vault) -> Iterator[str]:
    """The Vault on a free loopback port, from a background thread; yields its address."""
    sock = serving.bind()
    server = uvicorn.Server(
        uvicorn.Config(vault.app(), lifespan="off", access_log=False, log_config=None, ws="none")
    )
    stop = serving.start(server, sock, "vault")
    try:
        yield serving.url(sock)
    finally:
        stop()
