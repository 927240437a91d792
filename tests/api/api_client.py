"""Test helpers: a GraphQL client over real HTTP and websockets, and keys for every scope."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
POLYGON_SPEC = (ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml").read_text()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spec_for(tenant: str = "default", name: str = "polygon", **replace: str) -> str:
    """The Polygon example as another provider (name, tenant) or with text replaced."""
    text = POLYGON_SPEC.replace("tenant_id: default", f"tenant_id: {tenant}").replace(
        "  name: polygon\n", f"  name: {name}\n"
    )
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Keys:
    """Tokens of keys created for a test: one per scope, plus tenant-bound ones."""

    read: str
    run: str
    write: str
    admin: str
    #: Bound to tenant `other`: sees nothing of tenant `default`.
    other_admin: str
    #: Bound to tenant `default`.
    tenant_admin: str


async def post_graphql(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST one GraphQL operation to ``/graphql`` on ``http``, the key as a bearer token."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )


@dataclass(frozen=True)
class Api:
    """A running API server process."""

    base_url: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/graphql"

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        key: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            return await post_graphql(client, query, variables, key, headers=headers)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """The response body of a query that must not fail at the transport level."""
        response = await self.post(query, variables, key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """`data` of a query that must succeed without errors."""
        body = await self.gql(query, variables, key)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    @asynccontextmanager
    async def websocket(self, key: str | None) -> AsyncIterator[GraphQLSocket]:
        """A graphql-transport-ws connection, initialised with ``key``."""
        async with connect(self.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            socket = GraphQLSocket(ws)
            payload = {"Authorization": f"Bearer {key}"} if key else {}
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            yield socket


class GraphQLSocket:
    """A thin graphql-transport-ws client over a websockets connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.ws.recv())
        return message

    async def subscribe(
        self, ident: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        await self.ws.send(
            json.dumps(
                {
                    "id": ident,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )

    async def stop(self, ident: str) -> None:
        await self.ws.send(json.dumps({"id": ident, "type": "complete"}))


@dataclass
class Server:
    """A `headwater api` process, its client, and its log file."""

    process: subprocess.Popen[bytes]
    api: Api
    log: IO[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_server(database_url: str, log_name: str = "test-api", **env: str) -> Server:
    """`headwater api` on a free loopback port, waiting until it is ready."""
    port = free_port()
    environment = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_LOG_LEVEL": "WARNING",
        **env,
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / f"{log_name}-{port}.log", "wb")  # noqa: SIM115 - Server.stop closes it
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "api", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(process, Api(f"http://127.0.0.1:{port}"), log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise AssertionError(f"the API exited with {process.returncode}; see {log.name}")
        try:
            # Another session's server may hold the port we were given: insist on our pid.
            health = httpx.get(f"{server.api.base_url}/healthz", timeout=1).json()
            ready = httpx.get(f"{server.api.base_url}/readyz", timeout=1).status_code == 200
            if health.get("pid") == process.pid and ready:
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"the API did not become ready in 30 s; see {log.name}")
