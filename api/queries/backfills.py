"""Backfill groups: how far each one got, counted by each chunk's latest attempt."""

from __future__ import annotations

from typing import Any

from api import sql
from api.queries.runs import LIST_COLUMNS

#: A chunk's latest attempt is the run no retry points back to.
_LATEST = "NOT EXISTS (SELECT 1 FROM runs c WHERE c.parent_id = runs.id)"


async def status_counts(backfill_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per backfill: its chunks' latest attempts by status."""
    rows = await sql.rows(
        f"SELECT backfill_id, status, count(*) AS n FROM runs WHERE backfill_id = ANY($1) "
        f"AND {_LATEST} GROUP BY backfill_id, status",
        [backfill_ids],
    )
    counts: dict[int, dict[str, int]] = {ident: {} for ident in backfill_ids}
    for row in rows:
        counts[int(row["backfill_id"])][row["status"]] = int(row["n"])
    return counts


async def run_rows(backfill_id: int, limit: int) -> list[dict[str, Any]]:
    """The group's runs (every attempt), in window order."""
    return await sql.rows(
        f"SELECT {LIST_COLUMNS} FROM runs WHERE backfill_id = $1 "
        "ORDER BY window_start, attempt, id LIMIT $2",
        [backfill_id, limit],
    )
