"""Raw SQL on the ORM's pool, with JSONB columns decoded as the models would decode them.

The hot listings and the event stream are hand-written SQL (see api.queries); Tortoise's pool
returns JSONB as text there, so the known JSONB columns are parsed here once.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise import connections

#: PostgreSQL's SQLSTATE of a unique index refusing an insert.
UNIQUE_VIOLATION = "23505"
JSON_COLUMNS = frozenset({"payload", "parameters", "details", "spec_parsed", "compiled_plan"})


async def rows(query: str, args: list[Any] | None = None) -> list[dict[str, Any]]:
    """The result rows as dicts, JSONB columns parsed."""
    found = await connections.get("default").execute_query_dict(query, args or [])
    for row in found:
        for name in JSON_COLUMNS.intersection(row):
            value = row[name]
            if isinstance(value, str):
                row[name] = json.loads(value)
    return list(found)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, whether the ORM wrapped it or not."""
    for candidate in (exc, exc.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None
