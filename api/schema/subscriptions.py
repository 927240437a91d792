"""Live subscriptions: a run's status, a run's events resumable by sequence number, a runs feed.

Each subscription registers with the broker *before* it reads the events table, so an event
committed in between is both read and announced; sequence numbers drop the duplicate. A `GAP`
from the broker (its connection dropped, or the queue overflowed) means "read the table again
from the last sequence number you delivered", so a subscriber sees every event exactly once,
in order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

from api import sql
from api.broker import GAP, Event, Subscription
from api.models import EventKind, RunStatus
from api.models.states import TERMINAL
from api.schema.context import Info
from api.schema.errors import guarded
from api.schema.nodes import RunEventNode, RunNode, RunStatusEnum
from api.schema.permissions import CanRead, require_principal
from api.schema.runs import RunFilterInput, load_run, to_filter
from api.schema.scalars import ZERO, Long

_CATCH_UP_CHUNK = 1000
_FEED_MEMORY = 10_000
#: How far (in event ids) a feed re-reads behind the last id it saw: ids are handed out before
#: commit, so a slightly older id can commit after a newer one.
_FEED_MARGIN = 1000
_FEED_CHUNK = 5000


@strawberry.type
class RunStatusChange:
    run_id: strawberry.ID
    status: RunStatusEnum  # type: ignore[valid-type]
    seq: Long
    at: datetime


@strawberry.type
class RunFeedItem:
    run: RunNode
    previous_status: str | None
    status: str
    at: datetime


async def _rows_after(run_id: int, after: int) -> list[dict[str, Any]]:
    return await sql.rows(
        "SELECT id, run_id, seq, at, kind, level, message, payload FROM run_events "
        "WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        [run_id, after, _CATCH_UP_CHUNK],
    )


def _row_of(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "run_id": event.run_id,
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind,
        "level": event.level,
        "message": event.message,
        "payload": event.payload,
    }


async def run_event_rows(
    subscription: Subscription, run_id: int, after: int
) -> AsyncGenerator[dict[str, Any], None]:
    """Every event of a run after ``after``, in order, once; ends after a terminal status."""
    last = after

    async def from_table() -> AsyncGenerator[dict[str, Any], None]:
        nonlocal last
        while True:
            rows = await _rows_after(run_id, last)
            for row in rows:
                last = int(row["seq"])
                yield row
            if len(rows) < _CATCH_UP_CHUNK:
                return

    def ends(row: dict[str, Any]) -> bool:
        payload = row.get("payload") or {}
        return row["kind"] == EventKind.STATUS and payload.get("to") in TERMINAL

    async for row in from_table():
        yield row
        if ends(row):
            return
    while True:
        item = await subscription.get()
        if item is GAP or (isinstance(item, Event) and (item.seq > last + 1 or item.truncated)):
            # Missed (or cut) events: the table has them whole and in order.
            async for row in from_table():
                yield row
                if ends(row):
                    return
            continue
        assert isinstance(item, Event)
        if item.seq <= last:
            continue
        last = item.seq
        row = _row_of(item)
        yield row
        if ends(row):
            return


@strawberry.type
class Subscriptions:
    @strawberry.subscription(permission_classes=[CanRead])
    async def run_status(
        self, info: Info, run_id: strawberry.ID
    ) -> AsyncGenerator[RunStatusChange, None]:
        """The run's current status, then each change; completes at a terminal status."""
        node = await guarded(lambda: load_run(info, run_id))
        ident = int(node.row["id"])
        with info.context.broker.subscribe_run(ident) as subscription:
            current = await _latest_status(ident)
            if current is not None:
                yield _status_change(current)
                if current["payload"].get("to") in TERMINAL:
                    return
            after = int(current["seq"]) if current else 0
            async for row in run_event_rows(subscription, ident, after):
                if row["kind"] == EventKind.STATUS:
                    yield _status_change(row)

    @strawberry.subscription(permission_classes=[CanRead])
    async def run_events(
        self, info: Info, run_id: strawberry.ID, after: Long = ZERO
    ) -> AsyncGenerator[RunEventNode, None]:
        """Every event after sequence number `after`, with no gap and no duplicate."""
        node = await guarded(lambda: load_run(info, run_id))
        ident = int(node.row["id"])
        with info.context.broker.subscribe_run(ident) as subscription:
            async for row in run_event_rows(subscription, ident, int(after)):
                yield RunEventNode.of(row)

    @strawberry.subscription(permission_classes=[CanRead])
    async def runs_feed(
        self, info: Info, filter: RunFilterInput | None = None
    ) -> AsyncGenerator[RunFeedItem, None]:
        """Status changes of runs matching `filter`, as they happen (for live lists)."""
        principal = require_principal(info)
        wanted = to_filter(filter, principal.tenant_id)
        # What is already committed is history, not news: marking the margin's status events
        # seen keeps a later re-read (after a GAP) from replaying them as changes.
        last_id, recent = await _feed_start()
        seen: OrderedDict[tuple[int, int], None] = OrderedDict.fromkeys(recent)
        with info.context.broker.subscribe_feed() as subscription:
            while True:
                item = await subscription.get()
                if item is GAP:
                    events = await _status_events_after(last_id)
                else:
                    assert isinstance(item, Event)
                    events = [item]
                for event in events:
                    last_id = max(last_id, event.id)
                    key = (event.run_id, event.seq)
                    if key in seen:
                        continue
                    seen[key] = None
                    if len(seen) > _FEED_MEMORY:
                        seen.popitem(last=False)
                    payload = event.payload or {}
                    if not _matches(wanted, payload):
                        continue
                    row = await info.context.loaders.run.load(event.run_id)
                    info.context.loaders.run.clear(event.run_id)
                    if row is None:
                        continue
                    yield RunFeedItem(
                        run=RunNode(row=row),
                        previous_status=payload.get("from"),
                        status=str(payload.get("to")),
                        at=event.at,
                    )


def _matches(wanted: Any, payload: dict[str, Any]) -> bool:
    if wanted.tenant_id is not None and payload.get("tenant_id") != wanted.tenant_id:
        return False
    if wanted.statuses and payload.get("to") not in wanted.statuses:
        return False
    if wanted.provider_ids and payload.get("provider_id") not in wanted.provider_ids:
        return False
    return not (wanted.triggers and payload.get("trigger") not in wanted.triggers)


async def _latest_status(run_id: int) -> dict[str, Any] | None:
    rows = await sql.rows(
        "SELECT id, run_id, seq, at, kind, level, message, payload FROM run_events "
        "WHERE run_id = $1 AND kind = 'STATUS' ORDER BY seq DESC LIMIT 1",
        [run_id],
    )
    return rows[0] if rows else None


def _status_change(row: dict[str, Any]) -> RunStatusChange:
    return RunStatusChange(
        run_id=strawberry.ID(str(row["run_id"])),
        status=RunStatus(row["payload"]["to"]),
        seq=Long(int(row["seq"])),
        at=row["at"],
    )


async def _feed_start() -> tuple[int, list[tuple[int, int]]]:
    """The latest event id, and (run, seq) of the status events a re-read would go back over."""
    rows = await sql.rows(
        "WITH top AS (SELECT coalesce(max(id), 0) AS id FROM run_events) "
        "SELECT top.id AS last_id, e.run_id, e.seq FROM top LEFT JOIN run_events e "
        "ON e.kind = 'STATUS' AND e.id > top.id - $1 ORDER BY e.id",
        [_FEED_MARGIN],
    )
    recent = [(int(r["run_id"]), int(r["seq"])) for r in rows if r["run_id"] is not None]
    return int(rows[0]["last_id"]), recent


async def _status_events_after(last_id: int) -> list[Event]:
    """Status events from a margin behind ``last_id`` on (deduplicated by run and seq)."""
    events: list[Event] = []
    after = max(0, last_id - _FEED_MARGIN)
    while True:
        rows = await sql.rows(
            "SELECT id, run_id, seq, at, kind, level, message, payload FROM run_events "
            "WHERE kind = 'STATUS' AND id > $1 ORDER BY id LIMIT $2",
            [after, _FEED_CHUNK],
        )
        events.extend(
            Event(
                id=int(r["id"]),
                run_id=int(r["run_id"]),
                seq=int(r["seq"]),
                at=r["at"],
                kind=r["kind"],
                level=r["level"],
                message=r["message"],
                payload=r["payload"],
            )
            for r in rows
        )
        # A long outage can miss more than one chunk: stopping at the first would lose the rest.
        if len(rows) < _FEED_CHUNK:
            return events
        after = int(rows[-1]["id"])
