"""PostgreSQL sinks: a view written into a table in one transaction.

Spark writes the rows over JDBC into a staging table; then one transaction on the driver moves
them into the target (created like the staging table on first write, with the primary key for
a merge) and drops the staging table. append inserts; merge upserts on the primary key
(``INSERT … ON CONFLICT … DO UPDATE``, the last row fetched per key wins). Spark's own JDBC
append commits per partition, so a failed run could leave part of its rows: staging avoids that.

A job killed while it writes leaves its staging table behind. Staging tables are named for
when they were made (``headwater_staging_<UTC yyyymmddHHMMSS>_<hex>``), and each write first
drops those of its schema older than ``STAGING_MAX_AGE``: by then no live job still writes
them, while a concurrent writer's fresh one is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame

from runner.ingest.exceptions import TerminalError, TransientError
from runner.ingest.iceberg import Written, latest_per_key
from runner.ingest.secrets import SecretValue
from uis_compiler.plan import Sink

_SCHEMES = ("jdbc:postgresql://", "postgresql://", "postgres://")
_STAGING = re.compile(r"headwater_staging_(\d{14})_[0-9a-f]{16}")
_STAMP = "%Y%m%d%H%M%S"
#: A staging table lives while its run writes and publishes, and a run is stopped after
#: HEADWATER_WORKER_MAX_RUNTIME_SECONDS (6 h by default): one two days old was left by a job
#: that was killed. Far longer than any run, so a live writer's table is never taken.
STAGING_MAX_AGE = timedelta(days=2)
#: How long a sweep waits for a staging table another session holds before it leaves it.
_SWEEP_LOCK_TIMEOUT = "2s"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the rows go: the database (without credentials), the login, the table."""

    host_url: str
    user: str | None
    password: str | None = field(repr=False)
    schema: str | None
    table: str

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:{self.host_url}"

    @property
    def name(self) -> str:
        """`database.schema.table`, as DataHub's PostgreSQL source names tables."""
        database = urlsplit(self.host_url).path.lstrip("/")
        return f"{database}.{self.schema or 'public'}.{self.table}"

    def qualified(self, table: str | None = None) -> str:
        parts = [self.schema, table or self.table] if self.schema else [table or self.table]
        return ".".join(_quote(part) for part in parts)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def target(sink: Sink, secrets: Mapping[str, SecretValue]) -> Target:
    """The sink's database, login and table; the login from its credentials or the URL."""
    url = sink.url or ""
    if not url.startswith(_SCHEMES):
        raise TerminalError(
            f"postgres sink: `{url.split('?', 1)[0]}` is not a PostgreSQL URL (write "
            "postgresql://host:port/database or jdbc:postgresql://host:port/database)"
        )
    parts = urlsplit(url.removeprefix("jdbc:").replace("postgres://", "postgresql://", 1))
    query = dict(parse_qsl(parts.query))
    user = query.pop("user", None) or parts.username
    password = query.pop("password", None) or parts.password
    if sink.credentials is not None:
        login = secrets.get(sink.credentials)
        if isinstance(login, dict):
            user = login.get("user") or login.get("username") or user
            password = login.get("password", password)
        elif isinstance(login, str) and ":" in login:
            user, password = login.split(":", 1)
        else:
            raise TerminalError(
                "postgres sink: its credentials must be a secret with `user` and `password` "
                "keys, or `user:password`"
            )
    host = parts.hostname or "localhost"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit(("postgresql", netloc, parts.path, urlencode(query), ""))
    schema, _, table = (sink.table or "").rpartition(".")
    if not table:
        raise TerminalError("postgres sink: name its table with `table_name` or `config.table`")
    return Target(clean, user, password, schema or None, table)


def staging_name(now: datetime) -> str:
    """A new staging table's name, which says when it was made (``now``, in UTC)."""
    return f"headwater_staging_{now.astimezone(UTC).strftime(_STAMP)}_{uuid.uuid4().hex[:16]}"


def staging_made(name: str) -> datetime | None:
    """When a staging table named by ``staging_name`` was made; None for any other name."""
    found = _STAGING.fullmatch(name)
    if found is None:
        return None
    try:
        return datetime.strptime(found.group(1), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


async def _sweep(place: Target, now: datetime) -> list[str]:
    """Drop the staging tables of the target's schema older than STAGING_MAX_AGE."""
    connection = await asyncpg.connect(place.host_url, user=place.user, password=place.password)
    try:
        names = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = coalesce($1, current_schema()) AND c.relkind = 'r' "
            "AND c.relname LIKE 'headwater\\_staging\\_%'",
            place.schema,
        )
        # A table someone holds is not left by a dead job: waited for briefly, then left.
        await connection.execute(f"SET lock_timeout = '{_SWEEP_LOCK_TIMEOUT}'")
        dropped = []
        for (name,) in names:
            made = staging_made(name)
            if made is None or now - made < STAGING_MAX_AGE:
                continue
            # Another writer's sweep may drop it first, or its owner may be another login.
            with contextlib.suppress(asyncpg.PostgresError):
                await connection.execute(f"DROP TABLE IF EXISTS {place.qualified(name)}")
                dropped.append(name)
        return dropped
    finally:
        await connection.close()


async def _publish(place: Target, staging: str, columns: list[str], sink: Sink) -> int:
    """Move the staged rows into the target in one transaction; returns the rows written."""
    connection = await asyncpg.connect(place.host_url, user=place.user, password=place.password)
    try:
        async with connection.transaction():
            exists = await connection.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", place.qualified()
            )
            if not exists:
                await connection.execute(
                    f"CREATE TABLE {place.qualified()} (LIKE {place.qualified(staging)})"
                )
                if sink.write_mode == "merge":
                    keys = ", ".join(_quote(key) for key in sink.primary_key)
                    await connection.execute(
                        f"ALTER TABLE {place.qualified()} ADD PRIMARY KEY ({keys})"
                    )
            names = ", ".join(_quote(column) for column in columns)
            insert = (
                f"INSERT INTO {place.qualified()} ({names}) "
                f"SELECT {names} FROM {place.qualified(staging)}"
            )
            if sink.write_mode == "merge":
                keys = ", ".join(_quote(key) for key in sink.primary_key)
                updates = ", ".join(
                    f"{_quote(c)} = EXCLUDED.{_quote(c)}"
                    for c in columns
                    if c not in sink.primary_key
                )
                action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
                insert += f" ON CONFLICT ({keys}) {action}"
            status = await connection.execute(insert)
            await connection.execute(f"DROP TABLE {place.qualified(staging)}")
        # "INSERT 0 <rows>": for an upsert, the rows inserted or updated.
        return int(status.rsplit(" ", 1)[-1])
    finally:
        await connection.close()


async def _drop(place: Target, staging: str) -> None:
    connection = await asyncpg.connect(place.host_url, user=place.user, password=place.password)
    try:
        await connection.execute(f"DROP TABLE IF EXISTS {place.qualified(staging)}")
    finally:
        await connection.close()


def write(frame: DataFrame, sink: Sink, secrets: Mapping[str, SecretValue]) -> Written:
    """Write ``frame`` into the sink's table in one transaction; returns the rows written."""
    place = target(sink, secrets)
    if sink.write_mode == "merge":
        missing = [key for key in sink.primary_key if key not in frame.columns]
        if missing or not sink.primary_key:
            raise TerminalError(
                f"postgres sink {place.table}: a merge needs its primary key column(s) "
                f"produced ({', '.join(missing) or 'none named'})"
            )
        frame = latest_per_key(frame, sink.primary_key)
    elif sink.write_mode != "append":
        raise TerminalError(
            f"postgres sink {place.table}: write_mode `{sink.write_mode}` is not available "
            "(append or merge)"
        )
    staging = staging_name(datetime.now(UTC))
    properties = {"driver": "org.postgresql.Driver"}
    if place.user is not None:
        properties["user"] = place.user
    if place.password is not None:
        properties["password"] = place.password
    try:
        asyncio.run(_sweep(place, datetime.now(UTC)))
        frame.write.jdbc(place.jdbc_url, place.qualified(staging), "overwrite", properties)
        rows = asyncio.run(_publish(place, staging, frame.columns, sink))
    except BaseException as exc:
        # Best effort: the database may be what failed. The target is untouched either way.
        with contextlib.suppress(Exception):
            asyncio.run(_drop(place, staging))
        if isinstance(exc, OSError):
            raise TransientError(f"postgres sink {place.name}: {exc}") from None
        if isinstance(exc, asyncpg.PostgresError):
            raise TerminalError(f"postgres sink {place.name}: {exc}") from None
        if isinstance(exc, Py4JJavaError):
            # Spark's JDBC writer: the driver's own message (never the password, a property).
            reason = str(exc.java_exception.toString()).splitlines()[0]
            raise TerminalError(f"postgres sink {place.name}: {reason}") from None
        raise
    return Written(place.name, rows, None, created=False, platform="postgres")
