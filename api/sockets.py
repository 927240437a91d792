"""Live websockets per key: a cap on a key's subscriptions, and an end to a revoked key's.

A socket is authenticated once, at `connection_init`, and may stay open for days; the key
behind it is checked again every few seconds (one query for all the process's sockets), and
the sockets of a key revoked meanwhile are closed with 4403, their subscriptions ended.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Protocol

import structlog

from api.auth import revoked

log = structlog.get_logger("api.sockets")


class Socket(Protocol):
    async def revoke(self) -> None:
        """End every operation of the socket and close it: its key is no longer valid."""


class LiveSockets:
    """The process's authenticated sockets by key, and how many subscriptions each key holds."""

    def __init__(self, per_key: int, recheck_seconds: float) -> None:
        self.per_key = per_key
        self.recheck_seconds = recheck_seconds
        self._sockets: defaultdict[int, set[Socket]] = defaultdict(set)
        self._held: Counter[int] = Counter()

    def add(self, key_id: int, socket: Socket) -> None:
        self._sockets[key_id].add(socket)

    def remove(self, key_id: int, socket: Socket) -> None:
        sockets = self._sockets.get(key_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[key_id]

    def acquire(self, key_id: int) -> bool:
        """Takes one of the key's subscription slots; False when it holds them all."""
        if self._held[key_id] >= self.per_key:
            return False
        self._held[key_id] += 1
        return True

    def release(self, key_id: int) -> None:
        self._held[key_id] -= 1
        if self._held[key_id] <= 0:
            del self._held[key_id]

    def held(self, key_id: int) -> int:
        return self._held[key_id]

    async def recheck(self) -> int:
        """Closes the sockets of keys revoked since they connected; how many it closed."""
        gone = await revoked(set(self._sockets))
        closing = [socket for key_id in gone for socket in list(self._sockets.get(key_id, ()))]
        for socket in closing:
            await socket.revoke()
        if closing:
            log.info("sockets.revoked", keys=sorted(gone), sockets=len(closing))
        return len(closing)

    async def watch(self) -> None:
        """Rechecks forever (the API's lifespan runs it as a task and cancels it)."""
        while True:
            await asyncio.sleep(self.recheck_seconds)
            try:
                await self.recheck()
            except Exception as exc:  # the database restarting: tried again at the next tick
                log.warning("sockets.recheck_failed", error=repr(exc))
