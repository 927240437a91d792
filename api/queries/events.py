"""Runs' events in sequence order, from a sequence number on."""

from __future__ import annotations

from typing import Any

from api import sql


async def event_rows_of_runs(
    keys: list[tuple[int, int, int]], kinds: list[str] | None = None
) -> dict[tuple[int, int, int], list[dict[str, Any]]]:
    """For each ``(run_id, after, limit)``: up to ``limit`` events of the run with ``seq > after``
    (of the given kinds), in order. One query for all of them, however many runs are asked."""
    args: list[Any] = [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]]
    kind_clause = ""
    if kinds:
        args.append(kinds)
        kind_clause = " AND ev.kind = ANY($4)"
    rows = await sql.rows(
        "SELECT k.run_id, k.after, k.lim, e.seq, e.at, e.kind, e.level, e.message, e.payload "
        "FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS k(run_id, after, lim) "
        "CROSS JOIN LATERAL (SELECT seq, at, kind, level, message, payload FROM run_events ev "
        f"WHERE ev.run_id = k.run_id AND ev.seq > k.after{kind_clause} ORDER BY ev.seq "
        "LIMIT k.lim) e ORDER BY k.run_id, e.seq",
        args,
    )
    found: dict[tuple[int, int, int], list[dict[str, Any]]] = {key: [] for key in keys}
    for row in rows:
        key = (int(row.pop("run_id")), int(row.pop("after")), int(row.pop("lim")))
        found[key].append(row)
    return found
