"""The scheduler: cron ticks become runs exactly once, with the tick's window, whoever leads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from api_client import ROOT, Api, Keys, spec_for
from control_setup import create_provider

from runner.control.config import SchedulerConfig
from runner.control.scheduler import Scheduler

PROVIDER = """query($id: ID!) { provider(id: $id) { nextScheduledRun } }"""
EVERY_SECOND = {'schedule_cron: "0 18 * * 1-5"': 'schedule_cron: "* * * * * *"'}


@pytest.fixture
async def db(clean: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(clean)
    yield conn
    await conn.close()


async def scheduled(db: asyncpg.Connection, provider: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT scheduled_for, logical_date, window_start, window_end, trigger, status "
        "FROM runs WHERE provider_id = $1 ORDER BY scheduled_for",
        int(provider),
    )


async def test_due_ticks_make_runs_of_their_own_window_once(
    api: Api, keys: Keys, db: asyncpg.Connection
) -> None:
    provider = await create_provider(api, keys.admin, spec_for())
    # Weekdays 18:00 in New York; the scheduler was away since Monday morning.
    now = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)  # Thursday 08:00 in New York
    await db.execute(
        "UPDATE providers SET next_run_at = $2 WHERE id = $1",
        int(provider),
        datetime(2024, 3, 11, 22, 0, tzinfo=UTC),  # Monday 18:00 EDT
    )
    scheduler = Scheduler(SchedulerConfig("unused", misfire="catch_up", catch_up_max=2))
    assert await scheduler.tick(db, now) == 2
    runs = await scheduled(db, provider)
    # Monday, Tuesday and Wednesday were missed; the latest two are caught up, oldest first.
    assert [r["scheduled_for"] for r in runs] == [
        datetime(2024, 3, 12, 22, 0, tzinfo=UTC),
        datetime(2024, 3, 13, 22, 0, tzinfo=UTC),
    ]
    assert [r["logical_date"] for r in runs] == [date(2024, 3, 12), date(2024, 3, 13)]
    # lookback_days 5: the run of the 13th always ingests the 8th to the 13th.
    assert [(r["window_start"], r["window_end"]) for r in runs][1] == (
        date(2024, 3, 8),
        date(2024, 3, 13),
    )
    assert {(r["trigger"], r["status"]) for r in runs} == {("SCHEDULE", "QUEUED")}
    following = await db.fetchval("SELECT next_run_at FROM providers WHERE id = $1", int(provider))
    assert following == datetime(2024, 3, 14, 22, 0, tzinfo=UTC)
    # The same tick again, or a second scheduler's: nothing more.
    assert await scheduler.tick(db, now) == 0
    await db.execute(
        "UPDATE providers SET next_run_at = $2 WHERE id = $1",
        int(provider),
        datetime(2024, 3, 13, 22, 0, tzinfo=UTC),
    )
    assert await scheduler.tick(db, now) == 0
    assert len(await scheduled(db, provider)) == 2


async def test_paused_providers_are_skipped_and_skip_drops_missed_ticks(
    api: Api, keys: Keys, db: asyncpg.Connection
) -> None:
    active = await create_provider(api, keys.admin, spec_for(name="active", **EVERY_SECOND))
    paused = await create_provider(api, keys.admin, spec_for(name="paused", **EVERY_SECOND))
    await api.data(f'mutation {{ pauseProvider(id: "{paused}") {{ __typename }} }}', key=keys.admin)
    now = datetime.now(UTC).replace(microsecond=0)
    await db.execute(
        "UPDATE providers SET next_run_at = $1 WHERE id = ANY($2::bigint[])",
        now - timedelta(minutes=10),
        [int(active), int(paused)],
    )
    scheduler = Scheduler(SchedulerConfig("unused", misfire="skip", misfire_grace_seconds=5))
    queued = await scheduler.tick(db, now)
    # Ten minutes of ticks missed: only the last five seconds' (the grace) still run.
    assert queued == 6
    assert len(await scheduled(db, active)) == 6
    assert await scheduled(db, paused) == []
    detail = (await api.data(PROVIDER, {"id": active}, keys.read))["provider"]
    assert datetime.fromisoformat(detail["nextScheduledRun"]) == now + timedelta(seconds=1)


def start_scheduler(database_url: str, name: str) -> subprocess.Popen[bytes]:
    (ROOT / "var").mkdir(exist_ok=True)
    with (ROOT / "var" / f"test-{name}-{os.getpid()}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "scheduler"],
            env={
                **os.environ,
                "HEADWATER_DATABASE_URL": database_url,
                "HEADWATER_LOG_LEVEL": "INFO",
                "HEADWATER_SCHEDULER_TICK_SECONDS": "0.2",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def leader_of(db: asyncpg.Connection, pids: list[int]) -> int:
    """The pid of the scheduler holding the lock (its connection's name carries it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        holder = await db.fetchval(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND a.application_name LIKE 'headwater-scheduler %'"
        )
        if holder is not None and int(holder.split()[-1]) in pids:
            return int(holder.split()[-1])
        await asyncio.sleep(0.2)
    raise AssertionError("no scheduler took the lock")


async def test_two_schedulers_fire_each_tick_once_through_a_failover(
    api: Api, keys: Keys, db: asyncpg.Connection, clean: str
) -> None:
    provider = await create_provider(api, keys.admin, spec_for(**EVERY_SECOND))
    processes = [start_scheduler(clean, "scheduler-a"), start_scheduler(clean, "scheduler-b")]
    try:
        leader = await leader_of(db, [p.pid for p in processes])
        await asyncio.sleep(4)
        os.kill(leader, signal.SIGKILL)
        killed = time.monotonic()
        standby = next(p for p in processes if p.pid != leader)
        assert await leader_of(db, [standby.pid]) == standby.pid
        took_over = time.monotonic() - killed
        await asyncio.sleep(4)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
            process.wait(10)
    assert took_over < 5
    ticks: list[Any] = [r["scheduled_for"] for r in await scheduled(db, provider)]
    assert len(ticks) >= 7
    # Every second from the first tick to the last, each exactly once, across the failover.
    assert ticks == [ticks[0] + timedelta(seconds=n) for n in range(len(ticks))]
