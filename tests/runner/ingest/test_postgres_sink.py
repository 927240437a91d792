"""PostgreSQL sinks through the ingest job, into the project's own PostgreSQL server."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from paged_api import RunningApi, item, items_plan
from pyspark.sql import SparkSession

from headwater.settings import Settings
from runner.ingest import postgres_sink
from runner.ingest.exceptions import TerminalError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import JobConfig, RunResult, run_plan
from runner.ingest.reporting import PrintReporter

CANARY = "canary-pg-password-5d1e7b"


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    async def fetch() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(dsn(settings))
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def dsn(settings: Settings) -> str:
    return f"postgresql://headwater@127.0.0.1:{settings.pg_port}/{settings.catalog_database}"


@pytest.fixture
def schema(settings: Settings) -> Iterator[str]:
    name = f"sink_{uuid.uuid4().hex[:10]}"
    query(settings, f"CREATE SCHEMA {name}")
    yield name
    query(settings, f"DROP SCHEMA {name} CASCADE")


def ingest(
    spark: SparkSession, api: RunningApi, sink: dict[str, Any], out: io.StringIO | None = None
) -> RunResult:
    plan = items_plan(api.base_url, sink)
    inputs = RunInputs.for_window(
        plan, f"run-{uuid.uuid4().hex[:6]}", logical_date=date(2024, 6, 3)
    )
    reporter = PrintReporter(out if out is not None else io.StringIO())
    return run_plan(spark, plan, inputs, reporter, JobConfig())


def sink(settings: Settings, schema: str, **config: Any) -> dict[str, Any]:
    return {
        "type": "postgres",
        "table_name": f"{schema}.items",
        "config": {"url": f"jdbc:{dsn(settings).replace('headwater@', '')}", **config},
    }


def table(settings: Settings, schema: str) -> list[tuple[Any, ...]]:
    return query(settings, f"SELECT id, name FROM {schema}.items ORDER BY id, name")


def staging_left(settings: Settings, schema: str) -> list[tuple[Any, ...]]:
    return query(
        settings,
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = '{schema}' AND table_name LIKE 'headwater_staging_%'",
    )


def test_a_merge_upserts_on_the_primary_key(
    spark: SparkSession, api: RunningApi, settings: Settings, schema: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("HEADWATER_SECRET_PG_SINK_LOGIN", "headwater:unused")
    merge = sink(
        settings,
        schema,
        write_mode="merge",
        primary_key=["id"],
        credentials_ref="env:HEADWATER_SECRET_PG_SINK_LOGIN",
    )
    assert ingest(spark, api, merge).rows_written == 5
    api.api.records = [*(item(i) for i in range(3)), {"id": 3, "name": "renamed"}, item(4), item(5)]
    second = ingest(spark, api, merge)
    # Six rows inserted or updated; none duplicated.
    assert second.rows_written == 6
    assert second.written[0].table == f"{settings.catalog_database}.{schema}.items"
    assert second.written[0].platform == "postgres"
    assert table(settings, schema) == [
        (0, "item-0"), (1, "item-1"), (2, "item-2"), (3, "renamed"), (4, "item-4"), (5, "item-5")
    ]  # fmt: skip
    keys = query(
        settings,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{schema}.items'::regclass "
        "AND i.indisprimary",
    )
    assert keys == [("id",)]
    assert staging_left(settings, schema) == []


def test_appends_add_rows_and_the_password_never_shows(
    spark: SparkSession, api: RunningApi, settings: Settings, schema: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv(
        "HEADWATER_SECRET_PG_SINK_LOGIN", json.dumps({"user": "headwater", "password": CANARY})
    )
    append = sink(settings, schema, credentials_ref="env:HEADWATER_SECRET_PG_SINK_LOGIN")
    out = io.StringIO()
    for _ in range(2):
        assert ingest(spark, api, append, out).rows_written == 5
    assert len(table(settings, schema)) == 10
    # Every value of the login secret is masked, the user name ("headwater") too.
    assert f"to postgres ***_catalog.{schema}.items" in out.getvalue()
    assert CANARY not in out.getvalue()


def test_a_failed_publish_leaves_the_table_as_it_was(
    spark: SparkSession, api: RunningApi, settings: Settings, schema: str
) -> None:
    # A table made elsewhere, without the key a merge needs.
    query(settings, f"CREATE TABLE {schema}.items (id bigint, name text)")
    query(settings, f"INSERT INTO {schema}.items VALUES (0, 'kept')")
    merge = sink(settings, schema, write_mode="merge", primary_key=["id"])
    merge["config"]["url"] += "?user=headwater"
    with pytest.raises(
        TerminalError, match=f"postgres sink headwater_catalog.{schema}.items: .*constraint"
    ):
        ingest(spark, api, merge)
    assert table(settings, schema) == [(0, "kept")]
    assert staging_left(settings, schema) == []


NOW = datetime(2026, 12, 2, 18, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "made"),
    [
        (postgres_sink.staging_name(NOW), NOW),
        (postgres_sink.staging_name(NOW.astimezone(timezone(timedelta(hours=-5)))), NOW),
        ("headwater_staging_20261202183005_0123456789abcdef", NOW),
        # Names of older versions, or of anyone else: no age to read, never dropped.
        ("headwater_staging_0123456789abcdef", None),
        ("headwater_staging_20261202183005_notours", None),
        ("headwater_staging_20261302183005_0123456789abcdef", None),
        ("items", None),
    ],
    ids=["made-now", "made-in-another-zone", "read", "legacy", "foreign", "no-such-date", "other"],
)
def test_a_staging_table_name_says_when_it_was_made(name: str, made: datetime | None) -> None:
    assert postgres_sink.staging_made(name) == made
    assert len(name) <= 63


@contextmanager
def held(settings: Settings, table: str) -> Iterator[None]:
    """Another session holds ``table`` (in an open transaction) until the block ends."""
    locked, done = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(dsn(settings))
        try:
            async with connection.transaction():
                await connection.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
                locked.set()
                await asyncio.to_thread(done.wait, 60)
        finally:
            await connection.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        done.set()
        holder.join()


def test_a_write_drops_the_staging_tables_a_killed_job_left_and_no_live_one(
    spark: SparkSession, api: RunningApi, settings: Settings, schema: str
) -> None:
    now = datetime.now(UTC)
    # As a job killed between its staging write and its publish leaves them, days ago.
    crashed = postgres_sink.staging_name(now - postgres_sink.STAGING_MAX_AGE - timedelta(hours=1))
    also_crashed = postgres_sink.staging_name(now - timedelta(days=30))
    # A concurrent writer's, staged a while ago and not yet published; a name of an older
    # version, whose age cannot be read; an old one another session still holds.
    live = postgres_sink.staging_name(now - timedelta(hours=5))
    legacy = "headwater_staging_0123456789abcdef"
    in_use = postgres_sink.staging_name(now - timedelta(days=3))
    for name in (crashed, also_crashed, live, legacy, in_use):
        query(settings, f"CREATE TABLE {schema}.{name} (id bigint, name text)")
        query(settings, f"INSERT INTO {schema}.{name} VALUES (99, 'staged')")
    append = sink(settings, schema)
    append["config"]["url"] += "?user=headwater"
    with held(settings, f"{schema}.{in_use}"):
        result = ingest(spark, api, append)
    assert result.rows_written == 5
    assert len(table(settings, schema)) == 5
    assert sorted(row[0] for row in staging_left(settings, schema)) == sorted(
        [live, legacy, in_use]
    )
    assert query(settings, f"SELECT id, name FROM {schema}.{live}") == [(99, "staged")]
