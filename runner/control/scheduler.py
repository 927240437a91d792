"""`headwater scheduler`: cron ticks become runs, exactly once, whoever runs the scheduler.

Any number of scheduler processes (or workers running one) may run: one leads, holding a
PostgreSQL advisory lock on a connection of its own; the others retry the lock every tick, so
when the leader dies (its connection closes, the lock goes with it) another takes over within
a tick or two. The leader queues a run for every due tick of every active, scheduled provider
and moves the provider's `next_run_at` on, in one transaction; a run's `scheduled_for` is
unique per provider, so a tick can never make two runs, even with two leaders.

A run stands for its tick: its logical date is the tick's date in the schedule's time zone and
its window the spec's lookback before it, so the run of the 3rd ingests the same window
whenever it executes. Ticks missed while no scheduler ran follow the misfire policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from runner.control import metrics
from runner.control.config import SchedulerConfig
from uis_compiler.schedule import fires_before, fires_between, next_fire

#: The advisory lock the leading scheduler holds (an arbitrary constant, "HWSC").
LOCK_KEY: Final = 0x48575343
log = structlog.get_logger("runner.control.scheduler")
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
#: Providers looked at per tick (the oldest due first; the rest at the next tick).
_BATCH = 500


class Scheduler:
    """Leads or stands by, until cancelled."""

    def __init__(self, config: SchedulerConfig) -> None:
        self.config = config
        self.leading = False

    async def run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(
                    self.config.database_url,
                    # The pid tells operators (and the tests) which process leads.
                    server_settings={"application_name": f"headwater-scheduler {os.getpid()}"},
                )
            except _DATABASE_ERRORS as exc:
                log.warning("scheduler.connect_failed", error=str(exc))
                await asyncio.sleep(self.config.tick_seconds)
                continue
            try:
                await self._lead(conn)
            except _DATABASE_ERRORS as exc:
                log.warning("scheduler.connection_lost", error=str(exc))
            finally:
                if self.leading:
                    log.info("scheduler.stepped_down")
                self.leading = False
                metrics.SCHEDULER_LEADER.set(0)
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            await asyncio.sleep(self.config.tick_seconds)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            await asyncio.sleep(self.config.tick_seconds)
        self.leading = True
        metrics.SCHEDULER_LEADER.set(1)
        log.info("scheduler.leading")
        while True:
            await self.tick(conn)
            await asyncio.sleep(self.config.tick_seconds)

    async def tick(self, conn: asyncpg.Connection, now: datetime | None = None) -> int:
        """Queue the runs of every due tick; returns how many it queued."""
        moment = now or await conn.fetchval("SELECT now()")
        due = await conn.fetch(
            "SELECT p.id, p.tenant_id, p.schedule_cron, p.schedule_timezone, p.next_run_at, "
            "p.current_version_id, "
            "COALESCE((v.compiled_plan->'plan'->'window'->>'lookback_days')::int, 1) AS lookback "
            "FROM providers p JOIN spec_versions v ON v.id = p.current_version_id "
            "WHERE p.status = 'ACTIVE' AND p.deleted_at IS NULL AND p.schedule_cron IS NOT NULL "
            "AND (p.next_run_at IS NULL OR p.next_run_at <= $1) "
            "ORDER BY p.next_run_at NULLS FIRST, p.id LIMIT $2",
            moment,
            _BATCH,
        )
        queued = 0
        for provider in due:
            queued += await self._fire(conn, provider, moment)
        return queued

    def ticks_to_fire(
        self, cron: str, zone: str, previous: datetime, now: datetime
    ) -> tuple[list[datetime], bool]:
        """The due ticks (from ``previous`` to ``now``) that make runs, oldest first, and
        whether older ones were skipped (the misfire policy).

        Only the ticks that can fire are enumerated: those within the grace, and the latest
        missed ones a catch-up takes; a scheduler away for a day of per-second ticks does not
        list them all.
        """
        grace_start = now - timedelta(seconds=self.config.misfire_grace_seconds)
        on_time = list(fires_between(cron, zone, max(previous, grace_start), now))
        if previous >= grace_start:
            return on_time, False
        before = grace_start - timedelta(microseconds=1)
        catch_up = self.config.catch_up_max if self.config.misfire == "catch_up" else 0
        missed = [t for t in fires_before(cron, zone, before, catch_up + 1) if t >= previous]
        # One more than taken was looked for: finding it means older ticks were skipped.
        taken = missed[-catch_up:] if catch_up else []
        return taken + on_time, len(missed) > len(taken)

    async def _fire(self, conn: asyncpg.Connection, provider: asyncpg.Record, now: datetime) -> int:
        cron, zone = provider["schedule_cron"], provider["schedule_timezone"]
        following = next_fire(cron, zone, now)
        previous = provider["next_run_at"]
        # A provider never scheduled before (new, or resumed) starts at its next tick.
        fire, skipped = (
            ([], False) if previous is None else self.ticks_to_fire(cron, zone, previous, now)
        )
        queued = 0
        async with conn.transaction():
            # Moving next_run_at on only from the value read keeps two leaders from both firing.
            moved = await conn.fetchval(
                "UPDATE providers SET next_run_at = $2 WHERE id = $1 "
                "AND next_run_at IS NOT DISTINCT FROM $3 RETURNING id",
                provider["id"],
                following,
                previous,
            )
            if moved is None:
                return 0
            for tick in fire:
                logical = tick.astimezone(ZoneInfo(zone)).date()
                made = await conn.fetchval(
                    "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, "
                    "parameters, window_start, window_end, logical_date, scheduled_for, "
                    "created_at) VALUES ($1, $2, $3, 'QUEUED', 'SCHEDULE', '{}'::jsonb, $4, $5, "
                    "$5, $6, now()) ON CONFLICT (provider_id, scheduled_for) "
                    "WHERE scheduled_for IS NOT NULL DO NOTHING RETURNING id",
                    provider["tenant_id"],
                    provider["id"],
                    provider["current_version_id"],
                    logical - timedelta(days=int(provider["lookback"])),
                    logical,
                    tick,
                )
                if made is not None:
                    queued += 1
                    log.info("scheduler.queued", provider_id=provider["id"], tick=tick.isoformat())
        if skipped:
            log.warning("scheduler.skipped_ticks", provider_id=provider["id"], since=previous)
        metrics.SCHEDULED.inc(queued)
        return queued
