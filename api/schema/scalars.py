"""Custom scalars: 64-bit counts (GraphQL's Int is 32-bit)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry

Long = NewType("Long", int)
#: A `Long` zero for argument defaults (sequence numbers start after 0).
ZERO = Long(0)


def _parse_long(value: Any) -> int:
    # Whole numbers only: 1.5 or "x" is the client's mistake, not something to round.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"Long expects a whole number, not {value!r}")
    return int(value)


SCALARS: dict[object, Any] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (row counts, bytes, durations in ms).",
        serialize=int,
        parse_value=_parse_long,
    )
}
