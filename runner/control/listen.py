"""The worker's ear on the database: status announcements, over one LISTEN connection.

Every status change is announced on `headwater_run_status` (migrations/0003): listening, the
worker picks up a queued run or stops a canceled one within milliseconds, not at its next poll. The
connection comes back by itself after a database restart; polls and lease renewals cover
whatever was announced while it was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Final

import asyncpg
import structlog

CHANNEL: Final = "headwater_run_status"
log = structlog.get_logger("runner.control.listen")


class StatusListener:
    """Calls ``on_status(run_id, status)`` for every status change of any run."""

    def __init__(
        self,
        dsn: str,
        on_status: Callable[[int, str], None],
        on_reconnect: Callable[[], None],
        *,
        application_name: str = "headwater-worker-listen",
        health_seconds: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._on_status = on_status
        self._on_reconnect = on_reconnect
        self._application_name = application_name
        self._health_seconds = health_seconds
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff."""
        delay = 0.05
        first = True
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": self._application_name}
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("listen.connect_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            try:
                self._lost.clear()
                conn.add_termination_listener(lambda _: self._lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                self.connected.set()
                if not first:
                    self._on_reconnect()
                first = False
                await self._watch(conn)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _watch(self, conn: asyncpg.Connection) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._health_seconds)
            if self._lost.is_set() or conn.is_closed():
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._health_seconds)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
            status = event.get("status")
            run_id = int(event["run_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if isinstance(status, str):
            self._on_status(run_id, status)
