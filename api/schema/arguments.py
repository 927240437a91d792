"""Arguments every domain shares: ids as GraphQL IDs that must be PostgreSQL bigints."""

from __future__ import annotations

import strawberry

from api.exceptions import InvalidInputError

#: Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1


def ids(values: list[strawberry.ID] | None, name: str) -> tuple[int, ...]:
    """Numeric ids from GraphQL IDs; InvalidInputError names the argument otherwise."""
    try:
        found = tuple(int(v) for v in values or [])
    except ValueError as exc:
        raise InvalidInputError(name, f"`{name}` holds an id that is not a number") from exc
    if any(not 0 < value <= MAX_ID for value in found):
        raise InvalidInputError(name, f"`{name}` holds an id outside 1..{MAX_ID}")
    return found
