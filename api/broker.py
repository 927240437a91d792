"""One LISTEN connection per process, fanned out to every subscriber of run events.

PostgreSQL announces each run event (status, progress, log, metric, quality) on
``headwater_run_events`` (see migrations/0002). The broker keeps one dedicated connection
listening, routes each event to the subscribers of its run (and status events to run-feed
subscribers), and when that connection drops it reconnects and hands every subscriber a `GAP`:
subscribers then read what they missed from the events table, so nobody misses an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg
import structlog

from api import metrics

CHANNEL: Final = "headwater_run_events"
#: Names the LISTEN connection in pg_stat_activity (operators and tests find it by this).
APPLICATION_NAME: Final = "headwater-broker"
log = structlog.get_logger("api.broker")


@dataclass(frozen=True, slots=True)
class Event:
    """A run event as announced (message and payload may be cut: see ``truncated``)."""

    id: int
    run_id: int
    seq: int
    at: datetime
    kind: str
    level: str
    message: str
    payload: dict[str, Any] | None
    truncated: bool = False

    @classmethod
    def of(cls, data: dict[str, Any]) -> Event:
        return cls(
            id=int(data["id"]),
            run_id=int(data["run_id"]),
            seq=int(data["seq"]),
            at=datetime.fromisoformat(str(data["at"])),
            kind=str(data["kind"]),
            level=str(data["level"]),
            message=str(data.get("message") or ""),
            payload=data.get("payload"),
            truncated=bool(data.get("truncated")),
        )


class _Gap:
    """Marker: events may have been missed; read them from the table."""


GAP: Final = _Gap()


class Subscription:
    """A subscriber's queue; when it overflows, its backlog becomes one GAP."""

    def __init__(self, broker: Broker, key: int | None, maxsize: int) -> None:
        self._broker = broker
        self.key = key
        self._queue: asyncio.Queue[Event | _Gap] = asyncio.Queue(maxsize)

    def deliver(self, item: Event | _Gap) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # A slow consumer: drop its backlog, it re-reads from the table instead.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(GAP)

    async def get(self) -> Event | _Gap:
        return await self._queue.get()

    def close(self) -> None:
        self._broker._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Broker:
    """Owns the LISTEN connection and the subscriber registry of one process."""

    def __init__(
        self,
        dsn: str,
        *,
        queue_size: int = 10_000,
        health_interval: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._queue_size = queue_size
        self._health_interval = health_interval
        self._max_backoff = max_backoff
        self._by_run: dict[int, set[Subscription]] = defaultdict(set)
        self._feed: set[Subscription] = set()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0

    async def start(self) -> None:
        """Connect and listen; keeps reconnecting in the background until stopped."""
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="broker-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    def subscribe_run(self, run_id: int) -> Subscription:
        subscription = Subscription(self, run_id, self._queue_size)
        self._by_run[run_id].add(subscription)
        metrics.ACTIVE_SUBSCRIPTIONS.inc()
        return subscription

    def subscribe_feed(self) -> Subscription:
        subscription = Subscription(self, None, self._queue_size)
        self._feed.add(subscription)
        metrics.ACTIVE_SUBSCRIPTIONS.inc()
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        if subscription.key is None:
            if subscription in self._feed:
                self._feed.discard(subscription)
                metrics.ACTIVE_SUBSCRIPTIONS.dec()
            return
        members = self._by_run.get(subscription.key)
        if members is not None and subscription in members:
            members.discard(subscription)
            metrics.ACTIVE_SUBSCRIPTIONS.dec()
            if not members:
                del self._by_run[subscription.key]

    @property
    def subscriber_count(self) -> int:
        return len(self._feed) + sum(len(members) for members in self._by_run.values())

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self._dsn, server_settings={"application_name": APPLICATION_NAME}
        )
        conn.add_termination_listener(self._on_terminated)
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn
        self._lost.clear()
        self.connected.set()
        log.info("broker.listening", channel=CHANNEL)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_terminated(self, _conn: Any) -> None:
        self._lost.set()

    async def _watch(self) -> None:
        """Notice a lost connection (by event or failed health check) and reconnect."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._health_interval)
            if not self._lost.is_set() and await self._healthy():
                continue
            await self._close()
            await self._reconnect()

    async def _healthy(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), self._health_interval)
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError):
            return False
        return True

    async def _reconnect(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("broker.reconnect_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            self.reconnects += 1
            metrics.BROKER_RECONNECTS.inc()
            log.info("broker.reconnected", subscribers=self.subscriber_count)
            # Whatever was announced while we were away is in the table: tell everyone to look.
            for members in list(self._by_run.values()):
                for subscription in list(members):
                    subscription.deliver(GAP)
            for subscription in list(self._feed):
                subscription.deliver(GAP)
            return

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = Event.of(json.loads(payload))
        except (ValueError, KeyError, TypeError):
            log.error("broker.bad_payload", payload=payload[:200])
            return
        lag = time.time() - event.at.timestamp()
        metrics.BROKER_LAG.observe(max(lag, 0.0))
        for subscription in list(self._by_run.get(event.run_id, ())):
            subscription.deliver(event)
        if event.kind == "STATUS":
            for subscription in list(self._feed):
                subscription.deliver(event)
