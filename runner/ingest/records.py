"""Records → rows: field_mapping's columns, typed by the plan (or inferred from a sample)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from runner.ingest.exceptions import TerminalError
from uis_compiler.columns import ColumnType
from uis_compiler.plan import Column, Endpoint

_MISSING = object()


def field_value(record: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path inside one record; None when any step is missing."""
    value = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return None
    return value


def infer_type(values: Iterable[Any]) -> ColumnType:
    """The column type that holds every non-null sample value."""
    seen: set[str] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            seen.add("boolean")
        elif isinstance(value, int):
            seen.add("long")
        elif isinstance(value, float):
            seen.add("double")
        else:
            seen.add("string")
    if seen <= {"long"} and seen:
        return "long"
    if seen <= {"long", "double"} and seen:
        return "double"
    if seen == {"boolean"}:
        return "boolean"
    return "string"


def columns_of(endpoint: Endpoint, sample: Sequence[Any]) -> list[Column]:
    """The endpoint's columns, untyped ones typed from sample records (all fields if unmapped)."""
    if endpoint.columns is None:
        names = list(
            dict.fromkeys(k for record in sample if isinstance(record, dict) for k in record)
        )
        declared = [Column(name=name, source=[name]) for name in names]
    else:
        declared = list(endpoint.columns)
    typed = []
    for column in declared:
        if column.type is not None or column.variable is not None:
            typed.append(column if column.type else column.model_copy(update={"type": "string"}))
            continue
        values = [field_value(record, column.source or []) for record in sample]
        typed.append(column.model_copy(update={"type": infer_type(values)}))
    return typed


def _coerce(value: Any, kind: ColumnType, column: str) -> Any:
    """A JSON value as the column's Python value; a value that cannot fit is a terminal error."""
    if value is None:
        return None
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "long":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise TerminalError(
            f"column `{column}` is declared integer, but the source sent {value!r}; declare it "
            "`number` in schema_contract to keep fractions"
        )
    if kind == "double":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise TerminalError(f"column `{column}` is a number, but the source sent {value!r}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise TerminalError(f"column `{column}` is a boolean, but the source sent {value!r}")
    if kind == "date":
        return date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch numbers for timestamps are milliseconds (the common API convention).
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def rows(
    records: Iterable[Any], columns: Sequence[Column], variables: Mapping[str, str]
) -> list[tuple[Any, ...]]:
    """Each record as a tuple in column order, values coerced to the column types."""
    plans = [
        (column.name, column.source, column.variable, column.type or "string") for column in columns
    ]
    out = []
    for record in records:
        out.append(
            tuple(
                _coerce(
                    variables.get(variable)
                    if variable is not None
                    else field_value(record, source or []),
                    kind,
                    name,
                )
                for name, source, variable, kind in plans
            )
        )
    return out
