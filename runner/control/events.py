"""Run events written in batches: the job never waits for the database, and no line is lost.

Events (log lines, stages, progress, metrics, quality results) queue in memory, stamped with
the time they happened, and a writer task stores them every few milliseconds: per run, one
statement reserves a block of sequence numbers on the run's row and one COPY stores the
batch, in one transaction, so the batch is stored whole or not at all, numbered in the order
it was logged. Rather than one announcement per row, the batch sends one (`BATCH`, see
migrations/0003), on which subscribers read the new rows from the table: a burst of log lines
is stored many times faster, and subscribers read it in chunks. When the database is away the events wait and are written once it is back; a run's
status changes only after its earlier events are stored, so every event precedes the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from api.models.enums import EventKind, LogLevel
from runner.control import db, metrics
from runner.ingest import protocol

log = structlog.get_logger("runner.control.events")
_COLUMNS = ("run_id", "seq", "at", "kind", "level", "message", "payload")
#: Rows per COPY: a batch this big is written without waiting for the next tick.
BATCH = 5000
_LEVELS = frozenset(level.value for level in LogLevel)
#: A longer message is cut (a job's full traceback fits; a source's whole body does not).
MAX_MESSAGE = protocol.MAX_MESSAGE
#: One announcement for a batch, as the broker reads announcements (migrations/0002); cut
#: ("truncated"), so that subscribers read the batch's rows from the table.
_ANNOUNCE = (
    "SELECT pg_notify('headwater_run_events', json_build_object('id', 0, 'run_id', $1::bigint, "
    "'seq', $2::bigint, 'at', now(), 'kind', 'BATCH', 'level', 'INFO', 'message', '', "
    "'payload', NULL, 'truncated', true)::text)"
)


@dataclass(frozen=True, slots=True)
class _Pending:
    run_id: int
    at: datetime
    kind: str
    level: str
    message: str
    payload: str | None


def clean_text(text: str) -> str:
    """Text PostgreSQL stores: no NUL character, no lone surrogate (a source may send both)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _payload_text(payload: Mapping[str, Any] | None) -> str | None:
    if payload is None:
        return None
    # jsonb refuses the escaped NUL (\u0000) as well.
    return clean_text(json.dumps(payload, default=str)).replace("\\u0000", "")


class EventLog:
    """The worker's one event queue and its writer (``run`` in the worker's event loop)."""

    def __init__(self, pool: asyncpg.Pool, flush_seconds: float = 0.05) -> None:
        self._pool = pool
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._pending: deque[_Pending] = deque()
        self._counts: Counter[int] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._written = asyncio.Condition()
        self._writing = asyncio.Lock()

    def add(
        self,
        run_id: int,
        kind: EventKind,
        message: str,
        *,
        level: str = LogLevel.INFO,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue one event (from any thread); it is stored within a flush interval."""
        item = _Pending(
            run_id,
            datetime.now(UTC),
            kind.value,
            level if level in _LEVELS else LogLevel.INFO.value,
            clean_text(message[:MAX_MESSAGE]),
            _payload_text(payload),
        )
        with self._lock:
            self._pending.append(item)
            self._counts[run_id] += 1
            full = len(self._pending) >= BATCH
        if full and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def pending(self, run_id: int | None = None) -> int:
        with self._lock:
            return len(self._pending) if run_id is None else self._counts[run_id]

    async def run(self) -> None:
        """Write queued events until cancelled; a failed write is retried, never dropped."""
        self._loop = asyncio.get_running_loop()
        delay = self._flush_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self._write_all()
            except db.OUTAGE as exc:
                metrics.EVENT_WRITE_FAILURES.inc()
                log.warning("events.write_failed", error=str(exc), pending=self.pending())
                delay = min(max(delay * 2, 0.1), 2.0)
                continue
            delay = self._flush_seconds

    async def flush(self, run_id: int | None = None, timeout: float = 60.0) -> bool:
        """Wait until the run's (or every) queued event is stored; False after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pending(run_id):
            self._wake.set()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            async with self._written:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._written.wait(), min(remaining, 0.5))
        return True

    async def _write_all(self) -> None:
        async with self._writing:
            while True:
                with self._lock:
                    batch = list(itertools.islice(self._pending, BATCH))
                if not batch:
                    return
                try:
                    await self._write(batch)
                except db.OUTAGE:
                    raise
                except (asyncpg.PostgresError, UnicodeError, ValueError) as exc:
                    # Not the database's absence: an event it refuses. The others are stored,
                    # that one replaced by a line that says so; the queue never stalls on it.
                    log.error("events.refused", error=str(exc))
                    await self._write_each(batch)
                with self._lock:
                    for item in batch:
                        self._pending.popleft()
                        self._counts[item.run_id] -= 1
                        if not self._counts[item.run_id]:
                            del self._counts[item.run_id]
                async with self._written:
                    self._written.notify_all()

    async def _write_each(self, batch: list[_Pending]) -> None:
        for item in batch:
            try:
                await self._write([item])
            except db.OUTAGE:
                raise
            except (asyncpg.PostgresError, UnicodeError, ValueError) as exc:
                stand_in = _Pending(
                    item.run_id,
                    item.at,
                    EventKind.LOG.value,
                    LogLevel.ERROR.value,
                    f"an event of this run could not be stored ({type(exc).__name__})",
                    None,
                )
                with contextlib.suppress(asyncpg.PostgresError):
                    await self._write([stand_in])

    async def _write(self, batch: list[_Pending]) -> None:
        by_run: dict[int, list[_Pending]] = {}
        for item in batch:
            by_run.setdefault(item.run_id, []).append(item)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL headwater.batch_events = 'on'")
            for run_id, items in by_run.items():
                # The runs row lock orders this block against status changes of the run.
                last = await conn.fetchval(
                    "UPDATE runs SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq",
                    run_id,
                    len(items),
                )
                if last is None:
                    continue
                first = int(last) - len(items) + 1
                await conn.copy_records_to_table(
                    "run_events",
                    columns=_COLUMNS,
                    records=[
                        (run_id, first + n, i.at, i.kind, i.level, i.message, i.payload)
                        for n, i in enumerate(items)
                    ],
                )
                await conn.execute(_ANNOUNCE, run_id, int(last))
        metrics.EVENTS_WRITTEN.inc(len(batch))
