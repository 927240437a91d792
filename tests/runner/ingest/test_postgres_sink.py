"""PostgreSQL sinks through the ingest job, into the project's own PostgreSQL server."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from paged_api import RunningApi, item, items_plan
from pyspark.sql import SparkSession

from headwater.settings import Settings
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
