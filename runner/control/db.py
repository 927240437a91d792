"""The control plane's database: its connection pool, and which failures mean "it is away".

Only an outage is waited out (a restart, a dropped connection, a full server); any other
database error is a bug or a broken invariant, and retrying it would only hide it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog

log = structlog.get_logger("runner.control.db")
T = TypeVar("T")

#: The database is away (or going): waiting helps.
OUTAGE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
#: How long an outage (a restart) may last before a step gives up waiting for it.
OUTAGE_SECONDS = 120.0
#: No statement of the control plane takes long; one that does is treated as an outage.
COMMAND_TIMEOUT_SECONDS = 30.0


async def retrying(step: Callable[[], Awaitable[T]], *, seconds: float = OUTAGE_SECONDS) -> T:
    """Run a database step, waiting out an outage of up to ``seconds``."""
    deadline = time.monotonic() + seconds
    delay = 0.1
    while True:
        try:
            return await step()
        except OUTAGE as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("database.away", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def pool(url: str, size: int, application: str) -> asyncpg.Pool:
    """A pool of ``size`` connections named ``application``, once the database answers."""

    async def connect() -> asyncpg.Pool:
        found: asyncpg.Pool = await asyncpg.create_pool(
            url,
            min_size=min(2, size),
            max_size=size,
            command_timeout=COMMAND_TIMEOUT_SECONDS,
            server_settings={"application_name": application[:63]},
        )
        return found

    return await retrying(connect)
