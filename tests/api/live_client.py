"""Helpers of the subscription tests: a per-operation mailbox, event writers, broker handles."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from api_client import Api, GraphQLSocket, spec_for

from api.broker import APPLICATION_NAME

CREATE_PROVIDER = """
mutation($spec: String!) {
  createProvider(spec: $spec) {
    __typename
    ... on ProviderSaved { provider { id } }
    ... on Problem { message }
  }
}
"""
TRIGGER_RUN = """
mutation($provider: ID!) {
  triggerRun(providerId: $provider) {
    __typename
    ... on RunQueued { run { id } }
    ... on Problem { message }
  }
}
"""


class Mailbox:
    """graphql-transport-ws messages sorted by operation id, so operations can share a socket."""

    def __init__(self, socket: GraphQLSocket) -> None:
        self.socket = socket
        self._waiting: dict[str | None, deque[dict[str, Any]]] = defaultdict(deque)

    async def acknowledged(self) -> dict[str, Any]:
        """The `connection_ack` that follows `connection_init` (anything else fails)."""
        message = await self.take(None)
        assert message["type"] == "connection_ack", message
        return message

    async def take(self, ident: str | None, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of operation ``ident`` (None: connection-level messages)."""
        deadline = time.monotonic() + timeout
        while not self._waiting[ident]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no message for operation {ident!r} in {timeout} s")
            message = await asyncio.wait_for(self.socket.receive(), remaining)
            if message["type"] in ("ping", "pong"):
                continue
            self._waiting[message.get("id")].append(message)
        return self._waiting[ident].popleft()

    async def data(self, ident: str, field: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next `next` payload's ``field`` of an operation that must not fail."""
        message = await self.take(ident, timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        value: dict[str, Any] = message["payload"]["data"][field]
        return value

    async def items(self, ident: str, field: str, count: int) -> list[dict[str, Any]]:
        return [await self.data(ident, field) for _ in range(count)]

    async def until_complete(
        self, ident: str, field: str, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Every item up to the operation's `complete` (each within ``timeout`` of the last)."""
        found: list[dict[str, Any]] = []
        while True:
            message = await self.take(ident, timeout)
            if message["type"] == "complete":
                return found
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message["payload"]
            found.append(message["payload"]["data"][field])

    def pending(self, ident: str) -> list[dict[str, Any]]:
        """Messages of ``ident`` already received but not taken."""
        return list(self._waiting[ident])


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check`` holds (polling), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s: {check.__qualname__}")
        await asyncio.sleep(0.05)


async def metric(api: Api, key: str, name: str) -> float:
    """One unlabelled sample of the server's /metrics."""
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"/metrics has no {name}")


async def active_subscriptions(api: Api, key: str) -> int:
    """The server's `headwater_active_subscriptions` gauge."""
    return int(await metric(api, key, "headwater_active_subscriptions"))


async def broker_reconnects(api: Api, key: str) -> int:
    return int(await metric(api, key, "headwater_broker_reconnects_total"))


async def subscribers_reach(api: Api, key: str, count: int) -> None:
    """Wait until the server has exactly ``count`` subscribers registered with its broker."""

    async def reached() -> bool:
        return await active_subscriptions(api, key) == count

    await eventually(reached)


async def reconnected(api: Api, key: str, count: int) -> None:
    """Wait until the broker has re-established its LISTEN connection ``count`` times."""

    async def done() -> bool:
        return await broker_reconnects(api, key) >= count

    await eventually(done, timeout=20)


async def broker_ready(api: Api, ready: bool) -> None:
    """Wait until /readyz reports the broker connected (or not)."""

    async def state() -> bool:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            body = (await client.get("/readyz")).json()
        return bool(body["broker"]) is ready

    await eventually(state, timeout=20)


async def kill_broker(conn: asyncpg.Connection, database: str) -> int:
    """Terminate the broker's LISTEN connection to ``database``; how many were killed.

    Found by application name: `query` shows LISTEN only until the broker's first health check
    (`SELECT 1`). Only this database's: other test sessions share the server and keep theirs.
    """
    killed: int = await conn.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = $1 AND application_name = $2",
        database,
        APPLICATION_NAME,
    )
    return killed


@asynccontextmanager
async def broker_held_down(
    api: Api, admin: asyncpg.Connection, database: str
) -> AsyncIterator[None]:
    """Kill the broker's connection and keep it out until the block ends.

    While ``database`` admits no new connection the broker cannot reconnect; the connections
    already open (the server's pool, the test's writer) keep working.
    """
    await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
    try:
        assert await kill_broker(admin, database) == 1
        await broker_ready(api, False)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    await broker_ready(api, True)


async def new_provider(api: Api, key: str, tenant: str = "default", name: str = "polygon") -> int:
    data = await api.data(CREATE_PROVIDER, {"spec": spec_for(tenant, name)}, key)
    created = data["createProvider"]
    assert created["__typename"] == "ProviderSaved", created
    return int(created["provider"]["id"])


async def new_run(api: Api, key: str, provider_id: int) -> int:
    data = await api.data(TRIGGER_RUN, {"provider": str(provider_id)}, key)
    queued = data["triggerRun"]
    assert queued["__typename"] == "RunQueued", queued
    return int(queued["run"]["id"])


async def move(conn: asyncpg.Connection, run_id: int, *statuses: str) -> None:
    """Status changes the way the runner makes them (the database numbers and announces them)."""
    for status in statuses:
        await conn.execute("UPDATE runs SET status = $2 WHERE id = $1", run_id, status)


async def log(conn: asyncpg.Connection, run_id: int, message: str) -> int:
    """One log line the way the runner writes it; its sequence number."""
    seq: int = await conn.fetchval(
        "INSERT INTO run_events (run_id, seq, kind, level, message) "
        "VALUES ($1, NULL, 'LOG', 'INFO', $2) RETURNING seq",
        run_id,
        message,
    )
    return seq


async def logs(conn: asyncpg.Connection, run_id: int, count: int) -> int:
    """``count`` log lines in one statement; the run's last sequence number."""
    await conn.execute(
        "INSERT INTO run_events (run_id, seq, kind, level, message) "
        "SELECT $1, NULL, 'LOG', 'INFO', 'line ' || n FROM generate_series(1, $2) n",
        run_id,
        count,
    )
    return await last_seq(conn, run_id)


async def last_seq(conn: asyncpg.Connection, run_id: int) -> int:
    seq: int = await conn.fetchval("SELECT event_seq FROM runs WHERE id = $1", run_id)
    return seq
