"""A run's events in sequence order, from a sequence number on."""

from __future__ import annotations

from typing import Any

from api import sql


async def event_rows(
    run_id: int, after: int, limit: int, kinds: list[str] | None = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` events of the run with ``seq > after`` (of the given kinds), in order."""
    args: list[Any] = [run_id, after, limit]
    kind_clause = ""
    if kinds:
        args.append(kinds)
        kind_clause = " AND kind = ANY($4)"
    return await sql.rows(
        "SELECT seq, at, kind, level, message, payload FROM run_events "
        f"WHERE run_id = $1 AND seq > $2{kind_clause} ORDER BY seq LIMIT $3",
        args,
    )
