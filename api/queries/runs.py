"""The run listing: keyset pages whose cost does not grow with the size of the runs table.

Each combination of equality filters (status, provider, trigger, tenant) is one index range read
in sort order; several values of a filter become a UNION ALL of such ranges, each stopped at the
page size, merged by one small sort. Sorting by start time lists started runs, by duration
finished ones (the others have no value to sort by).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from api import cursors, sql
from api.exceptions import InvalidInputError

SortField = Literal["CREATED_AT", "STARTED_AT", "DURATION"]
Direction = Literal["ASC", "DESC"]
_COLUMNS: dict[SortField, str] = {
    "CREATED_AT": "created_at",
    "STARTED_AT": "started_at",
    "DURATION": "duration_ms",
}
#: Beyond this many filter combinations one range read per combination stops paying off.
_MAX_BRANCHES = 32
#: The slim columns of a listing (heavy ones, like error text, are fetched on detail).
LIST_COLUMNS = (
    "id, tenant_id, provider_id, version_id, status, trigger, attempt, parent_id, "
    "window_start, window_end, logical_date, created_at, started_at, finished_at, duration_ms, "
    "rows_read, rows_written, bytes_read, pages, requests, retries, error_class, snapshot_id, "
    # Listings almost always show the provider's name: one primary-key probe per row here
    # is cheaper than a loader round trip and an async resolver per row.
    "(SELECT p.name FROM providers p WHERE p.id = runs.provider_id) AS provider_name"
)


@dataclass(frozen=True, slots=True)
class RunFilter:
    statuses: tuple[str, ...] = ()
    provider_ids: tuple[int, ...] = ()
    triggers: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    tenant_id: str | None = None


@dataclass
class _Sql:
    """A statement under construction with numbered parameters."""

    args: list[Any] = field(default_factory=list)

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _branches(filters: RunFilter) -> list[dict[str, Any]]:
    choices: list[list[tuple[str, Any]]] = []
    if filters.tenant_id is not None:
        choices.append([("tenant_id", filters.tenant_id)])
    for column, values in (
        ("provider_id", filters.provider_ids),
        ("status", filters.statuses),
        ("trigger", filters.triggers),
    ):
        if values:
            choices.append([(column, value) for value in dict.fromkeys(values)])
    return [dict(combo) for combo in itertools.product(*choices)]


def page_query(
    filters: RunFilter,
    sort: SortField,
    direction: Direction,
    first: int,
    after: str | None,
    columns: str = LIST_COLUMNS,
) -> tuple[str, list[Any]]:
    """SQL and arguments for ``first + 1`` rows after ``after`` (the extra row says "more")."""
    column = _COLUMNS[sort]
    sql = _Sql()
    common: list[str] = []
    if sort != "CREATED_AT":
        common.append(f"{column} IS NOT NULL")
    if filters.created_after is not None:
        common.append(f"created_at >= {sql.bind(filters.created_after)}")
    if filters.created_before is not None:
        common.append(f"created_at < {sql.bind(filters.created_before)}")
    if after is not None:
        key, ident = cursors.decode(after, sort)
        key = _key_value(sort, key)
        op = "<" if direction == "DESC" else ">"
        common.append(f"({column}, id) {op} ({sql.bind(key)}, {sql.bind(ident)})")
    order = f"{column} {direction}, id {direction}"
    limit = sql.bind(first + 1)
    branches = _branches(filters)
    if len(branches) > _MAX_BRANCHES:
        # Too many combinations: one read with IN lists, still in index order per first column.
        where = list(common)
        for name, values in (
            ("provider_id", filters.provider_ids),
            ("status", filters.statuses),
            ("trigger", filters.triggers),
        ):
            if values:
                where.append(f"{name} = ANY({sql.bind(list(values))})")
        if filters.tenant_id is not None:
            where.append(f"tenant_id = {sql.bind(filters.tenant_id)}")
        clause = " AND ".join(where) or "TRUE"
        return f"SELECT {columns} FROM runs WHERE {clause} ORDER BY {order} LIMIT {limit}", sql.args
    parts = []
    for branch in branches:
        where = [*common, *(f"{name} = {sql.bind(value)}" for name, value in branch.items())]
        clause = " AND ".join(where) or "TRUE"
        parts.append(f"(SELECT {columns} FROM runs WHERE {clause} ORDER BY {order} LIMIT {limit})")
    if len(parts) == 1:
        return parts[0][1:-1], sql.args
    body = " UNION ALL ".join(parts)
    return f"SELECT * FROM ({body}) page ORDER BY {order} LIMIT {limit}", sql.args


def _key_value(sort: SortField, key: Any) -> Any:
    if sort == "DURATION":
        if not isinstance(key, int):
            raise InvalidInputError("after", "the cursor's duration is not a number")
        return key
    try:
        return datetime.fromisoformat(str(key))
    except ValueError as exc:
        raise InvalidInputError("after", "the cursor's time is not a timestamp") from exc


def cursor_of(row: dict[str, Any], sort: SortField) -> str:
    return cursors.encode(sort, row[_COLUMNS[sort]], int(row["id"]))


async def fetch_page(
    filters: RunFilter,
    sort: SortField,
    direction: Direction,
    first: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], bool]:
    """The page's rows and whether more follow."""
    query, args = page_query(filters, sort, direction, first, after)
    rows = await sql.rows(query, args)
    return rows[:first], len(rows) > first


async def count(filters: RunFilter, cap: int) -> tuple[int, bool]:
    """How many runs match, counting at most ``cap + 1``; and whether the count is exact."""
    # The sort column is selected too: several filter values merge their reads ordered by it.
    query, args = page_query(filters, "CREATED_AT", "DESC", cap, None, columns="id, created_at")
    rows = await sql.rows(f"SELECT count(*) AS n FROM ({query}) counted", args)
    found = int(rows[0]["n"])
    return min(found, cap), found <= cap
