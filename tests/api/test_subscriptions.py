"""Live subscriptions over real websockets (graphql-transport-ws) against the real server.

Events are written the way the runner writes them, on a connection of the test process:
status changes as `UPDATE runs SET status = …`, log lines as inserts numbered by the database.
Every test asserts the exact sequence numbers a subscriber saw: no gap, no duplicate, in order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from api_client import Api, Keys
from live_client import (
    Mailbox,
    active_subscriptions,
    broker_held_down,
    broker_reconnects,
    eventually,
    kill_broker,
    last_seq,
    log,
    logs,
    move,
    new_provider,
    new_run,
    reconnected,
    subscribers_reach,
)

RUN_STATUS = "subscription($run: ID!) { runStatus(runId: $run) { runId status seq } }"
RUN_EVENTS = """
subscription($run: ID!, $after: Long! = 0) {
  runEvents(runId: $run, after: $after) { seq kind level message payload }
}
"""
RUNS_FEED = """
subscription($filter: RunFilterInput) {
  runsFeed(filter: $filter) { run { id providerName tenantId } previousStatus status }
}
"""
HAPPY_PATH = ("STARTING", "RUNNING", "SUCCEEDED")


@pytest.fixture
async def db(orm: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test process that writes events as the runner would."""
    conn = await asyncpg.connect(orm)
    yield conn
    await conn.close()


@pytest.fixture
async def database(db: asyncpg.Connection) -> str:
    """The name of this session's test database."""
    name: str = await db.fetchval("SELECT current_database()")
    return name


@pytest.fixture
async def admin(postgres: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the maintenance database (it may close the test database's doors)."""
    conn = await asyncpg.connect(postgres)
    yield conn
    await conn.close()


@pytest.fixture
async def run_id(api: Api, keys: Keys) -> int:
    """A fresh QUEUED run of tenant `default` (its first event, seq 1, is the QUEUED status)."""
    return await new_run(api, keys.run, await new_provider(api, keys.write))


def seqs(items: list[dict[str, object]]) -> list[int]:
    return [int(str(item["seq"])) for item in items]


async def test_run_status_sends_the_current_status_then_each_change_and_completes(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("s", RUN_STATUS, {"run": str(run_id)})
        first = await box.data("s", "runStatus")
        assert first == {"runId": str(run_id), "status": "QUEUED", "seq": 1}
        await move(db, run_id, "STARTING")
        await log(db, run_id, "not a status: runStatus skips it")
        await move(db, run_id, "RUNNING", "SUCCEEDED")
        changes = await box.until_complete("s", "runStatus")
    assert [(c["status"], c["seq"]) for c in changes] == [
        ("STARTING", 2),
        ("RUNNING", 4),
        ("SUCCEEDED", 5),
    ]


async def test_run_status_of_a_finished_run_is_one_message(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    await move(db, run_id, "STARTING", "FAILED")
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("s", RUN_STATUS, {"run": str(run_id)})
        assert await box.until_complete("s", "runStatus") == [
            {"runId": str(run_id), "status": "FAILED", "seq": 3}
        ]


@pytest.mark.parametrize("after", [0, 7])
async def test_run_events_from_a_cursor_has_no_gap_and_no_duplicate(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int, after: int
) -> None:
    await move(db, run_id, "STARTING")
    stored = await logs(db, run_id, 10)
    assert stored == 12
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id), "after": after})
        caught_up = await box.items("e", "runEvents", stored - after)
        await move(db, run_id, "RUNNING")
        await log(db, run_id, "live")
        await move(db, run_id, "SUCCEEDED")
        live = await box.until_complete("e", "runEvents")
    assert seqs(caught_up) == list(range(after + 1, stored + 1))
    assert seqs(live) == [13, 14, 15]
    assert [(e["kind"], e["message"]) for e in live] == [
        ("STATUS", "STARTING -> RUNNING"),
        ("LOG", "live"),
        ("STATUS", "RUNNING -> SUCCEEDED"),
    ]
    if after == 0:
        assert caught_up[0]["kind"] == "STATUS" and caught_up[0]["payload"]["to"] == "QUEUED"


async def test_events_written_while_catching_up_arrive_once_in_order(
    api: Api, keys: Keys, db: asyncpg.Connection, orm: str, run_id: int
) -> None:
    await move(db, run_id, "STARTING", "RUNNING")
    # More than one catch-up chunk (1000 rows) already stored, and more arriving meanwhile.
    backlog = await logs(db, run_id, 2500)
    writer = await asyncpg.connect(orm)

    async def write_meanwhile() -> None:
        for n in range(300):
            await log(writer, run_id, f"meanwhile {n}")
            if n % 50 == 0:
                await asyncio.sleep(0)
        await move(writer, run_id, "SUCCEEDED")

    try:
        async with api.websocket(keys.read) as socket:
            box = Mailbox(socket)
            await box.acknowledged()
            await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
            concurrent = asyncio.create_task(write_meanwhile())
            received = await box.until_complete("e", "runEvents")
            await concurrent
    finally:
        await writer.close()
    final = await last_seq(db, run_id)
    assert final == backlog + 301
    assert seqs(received) == list(range(1, final + 1))
    assert received[-1]["message"] == "RUNNING -> SUCCEEDED"


async def test_a_message_cut_for_notify_arrives_whole(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    long_text = "".join(f"{n:05d} " for n in range(1000))
    big_payload = {"rows": list(range(1500))}
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
        assert seqs(await box.items("e", "runEvents", 1)) == [1]
        # Subscribed and live: these come through NOTIFY, which carries them cut.
        await log(db, run_id, long_text)
        await db.execute(
            "INSERT INTO run_events (run_id, seq, kind, level, message, payload) "
            "VALUES ($1, NULL, 'PROGRESS', 'INFO', 'progress', $2)",
            run_id,
            json.dumps(big_payload),
        )
        await move(db, run_id, "CANCELED")
        received = await box.until_complete("e", "runEvents")
    assert seqs(received) == [2, 3, 4]
    assert len(long_text) > 2000 and received[0]["message"] == long_text
    assert received[1]["payload"] == big_payload


async def test_runs_feed_delivers_only_matching_changes_of_the_callers_tenant(
    api: Api, keys: Keys, db: asyncpg.Connection
) -> None:
    wanted = await new_provider(api, keys.write, name="wanted")
    other_provider = await new_provider(api, keys.write, name="unwanted")
    foreign = await new_provider(api, keys.other_admin, tenant="other", name="wanted")
    runs = {
        "mine": await new_run(api, keys.run, wanted),
        "other provider": await new_run(api, keys.run, other_provider),
        "other tenant": await new_run(api, keys.other_admin, foreign),
        # Changed last: whatever a feed should not have got would have come before these.
        "mine, last": await new_run(api, keys.run, wanted),
        "other tenant, last": await new_run(api, keys.other_admin, foreign),
    }
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.tenant_admin) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe(
            "f",
            RUNS_FEED,
            {"filter": {"statuses": ["RUNNING", "FAILED"], "providerIds": [str(wanted)]}},
        )
        # An unfiltered feed of the other tenant's key sees only that tenant's runs.
        async with api.websocket(keys.other_admin) as other_socket:
            other_box = Mailbox(other_socket)
            await other_box.acknowledged()
            await other_socket.subscribe("g", RUNS_FEED)
            await subscribers_reach(api, keys.admin, baseline + 2)
            for name in ("other tenant", "other provider", "mine"):
                await move(db, runs[name], "STARTING", "RUNNING", "FAILED")
            await move(db, runs["mine, last"], "STARTING", "RUNNING")
            await move(db, runs["other tenant, last"], "STARTING")
            mine = await box.items("f", "runsFeed", 3)
            foreign_seen = await other_box.items("g", "runsFeed", 4)
    assert [(i["run"]["id"], i["previousStatus"], i["status"]) for i in mine] == [
        (str(runs["mine"]), "STARTING", "RUNNING"),
        (str(runs["mine"]), "RUNNING", "FAILED"),
        (str(runs["mine, last"]), "STARTING", "RUNNING"),
    ]
    assert mine[0]["run"]["providerName"] == "wanted" and mine[0]["run"]["tenantId"] == "default"
    assert [(i["run"]["id"], i["status"]) for i in foreign_seen] == [
        (str(runs["other tenant"]), "STARTING"),
        (str(runs["other tenant"]), "RUNNING"),
        (str(runs["other tenant"]), "FAILED"),
        (str(runs["other tenant, last"]), "STARTING"),
    ]
    assert {i["run"]["tenantId"] for i in foreign_seen} == {"other"}


async def test_another_tenants_run_cannot_be_watched(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.other_admin) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
        refused = await box.take("e")
        await move(db, run_id, "STARTING")
        finished = await box.take("e")
    assert refused["type"] == "next" and refused["payload"]["data"] is None, refused
    [error] = refused["payload"]["errors"]
    assert error["message"] == f"run {run_id} not found"
    assert error["extensions"]["code"] == "NOT_FOUND"
    # Refused before registering with the broker: nothing follows, the count never moved.
    assert finished["type"] == "complete"
    assert await active_subscriptions(api, keys.admin) == baseline


async def test_complete_from_the_client_unregisters_the_subscriber(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("a", RUN_EVENTS, {"run": str(run_id)})
        await socket.subscribe("b", RUN_EVENTS, {"run": str(run_id)})
        assert seqs(await box.items("a", "runEvents", 1)) == [1]
        assert seqs(await box.items("b", "runEvents", 1)) == [1]
        await subscribers_reach(api, keys.admin, baseline + 2)
        await socket.stop("a")
        await subscribers_reach(api, keys.admin, baseline + 1)
        await move(db, run_id, "STARTING")
        assert seqs(await box.items("b", "runEvents", 1)) == [2]
        # "b" got the event, so "a" would have got it by now had it still been subscribed.
        assert box.pending("a") == []
    # Closing the socket ends the remaining one.
    await subscribers_reach(api, keys.admin, baseline)


async def test_subscribers_resume_without_loss_after_the_broker_connection_is_killed(
    api: Api, keys: Keys, db: asyncpg.Connection, admin: asyncpg.Connection, database: str
) -> None:
    provider = await new_provider(api, keys.write)
    run_id = await new_run(api, keys.run, provider)
    # Finished before anyone subscribes: the feed must not replay it after the reconnect.
    old_run = await new_run(api, keys.run, provider)
    await move(db, old_run, "STARTING", "FAILED")
    await move(db, run_id, "STARTING")
    await logs(db, run_id, 3)
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
        await socket.subscribe("s", RUN_STATUS, {"run": str(run_id)})
        await socket.subscribe("f", RUNS_FEED, {"filter": {"providerIds": [str(provider)]}})
        assert seqs(await box.items("e", "runEvents", 5)) == [1, 2, 3, 4, 5]
        assert (await box.data("s", "runStatus"))["status"] == "STARTING"
        await subscribers_reach(api, keys.admin, baseline + 3)
        async with broker_held_down(api, admin, database):
            await move(db, run_id, "RUNNING")
            await logs(db, run_id, 5)
            await log(db, run_id, "x" * 3000)
        await log(db, run_id, "after the reconnect")
        await move(db, run_id, "SUCCEEDED")
        after = await box.until_complete("e", "runEvents")
        statuses = await box.until_complete("s", "runStatus")
        feed = await box.items("f", "runsFeed", 2)
    assert seqs(after) == list(range(6, 15))
    assert after[-2]["message"] == "after the reconnect" and after[-3]["message"] == "x" * 3000
    assert [(s["status"], s["seq"]) for s in statuses] == [("RUNNING", 6), ("SUCCEEDED", 14)]
    assert [(i["run"]["id"], i["status"]) for i in feed] == [
        (str(run_id), "RUNNING"),
        (str(run_id), "SUCCEEDED"),
    ]


async def test_a_feed_reads_everything_it_missed_during_a_long_outage(
    api: Api, keys: Keys, db: asyncpg.Connection, admin: asyncpg.Connection, database: str
) -> None:
    provider = await new_provider(api, keys.write)
    missed, live, template = [await new_run(api, keys.run, provider) for _ in range(3)]
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("f", RUNS_FEED, {"filter": {"statuses": ["SUCCEEDED"]}})
        await subscribers_reach(api, keys.admin, baseline + 1)
        async with broker_held_down(api, admin, database):
            # More status changes than one re-read chunk (5000) before the one the feed wants.
            await db.execute(
                "INSERT INTO runs (tenant_id, provider_id, version_id, status, trigger, attempt, "
                "parameters, created_at, rows_read, rows_written, bytes_read, pages, requests, "
                "retries, event_seq) SELECT tenant_id, provider_id, version_id, 'QUEUED', trigger, "
                "1, '{}', now(), 0, 0, 0, 0, 0, 0, 0 FROM runs, generate_series(1, 2000) "
                "WHERE id = $1",
                template,
            )
            for status in ("STARTING", "RUNNING"):
                await db.execute("UPDATE runs SET status = $1 WHERE id > $2", status, template)
            await move(db, missed, *HAPPY_PATH)
        await move(db, live, *HAPPY_PATH)
        feed = await box.items("f", "runsFeed", 2)
    assert [(i["run"]["id"], i["status"]) for i in feed] == [
        (str(missed), "SUCCEEDED"),
        (str(live), "SUCCEEDED"),
    ]


async def test_killing_the_broker_mid_stream_loses_nothing(
    api: Api,
    keys: Keys,
    db: asyncpg.Connection,
    admin: asyncpg.Connection,
    database: str,
    run_id: int,
) -> None:
    await move(db, run_id, "STARTING", "RUNNING")
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
        assert seqs(await box.items("e", "runEvents", 3)) == [1, 2, 3]
        # No hold this time: the writes race the reconnect, as they would in production.
        for round_ in range(3):
            reconnects = await broker_reconnects(api, keys.admin)
            assert await kill_broker(admin, database) == 1
            for n in range(20):
                await log(db, run_id, f"round {round_} line {n}")
            await reconnected(api, keys.admin, reconnects + 1)
        await move(db, run_id, "SUCCEEDED")
        received = await box.until_complete("e", "runEvents")
    assert seqs(received) == list(range(4, 65))


async def test_the_subscriber_count_drops_when_a_subscription_completes(
    api: Api, keys: Keys, db: asyncpg.Connection, run_id: int
) -> None:
    baseline = await active_subscriptions(api, keys.admin)
    async with api.websocket(keys.read) as socket:
        box = Mailbox(socket)
        await box.acknowledged()
        await socket.subscribe("e", RUN_EVENTS, {"run": str(run_id)})
        assert seqs(await box.items("e", "runEvents", 1)) == [1]
        await subscribers_reach(api, keys.admin, baseline + 1)
        await move(db, run_id, "CANCELED")
        assert seqs(await box.until_complete("e", "runEvents")) == [2]

        async def released() -> bool:
            return await active_subscriptions(api, keys.admin) == baseline

        await eventually(released)
