"""Records → rows: field_mapping's columns, typed by the plan (or inferred from a sample).

Executors hand their rows to Spark as Arrow record batches (``RecordBatches``), built a column
at a time; ``rows`` is the same mapping one tuple per record.
"""

from __future__ import annotations

import contextlib
import json
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from runner.ingest.exceptions import TerminalError
from uis_compiler.columns import ColumnType
from uis_compiler.plan import Column, Endpoint

_MISSING = object()
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


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
        if (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and value.lstrip("-").isdigit()
        ):
            value = int(value)
        if isinstance(value, int):
            if not _LONG_MIN <= value <= _LONG_MAX:
                # Spark would refuse it later, in an error that names no column.
                raise TerminalError(
                    f"column `{column}` is a 64-bit integer, and {value} does not fit; declare "
                    "it `number` or `string` in schema_contract"
                )
            return value
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
        if not isinstance(value, str):
            return value
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise TerminalError(
                f"column `{column}` is a date, but the source sent {value!r}"
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch numbers for timestamps are milliseconds (the common API convention).
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TerminalError(
            f"column `{column}` is a timestamp, but the source sent {value!r}; send ISO 8601 "
            "or epoch milliseconds"
        ) from None
    # Without an offset it is UTC, the session time zone of every run (not the executor's).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    # Spark reads a zoned Arrow timestamp as TimestampType.
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_NONE = type(None)
#: Python types Arrow takes unconverted for a column type, with the value _coerce would give.
#: bool is left out everywhere but boolean: Arrow would turn True into 1.0 for a double column,
#: where _coerce refuses it. An int in a double column becomes the same float in both, and
#: Arrow raises (and the column is coerced one value at a time) when it cannot be exact.
_AS_IS: dict[ColumnType, frozenset[type]] = {
    "string": frozenset({str, _NONE}),
    "long": frozenset({int, _NONE}),
    "double": frozenset({float, int, _NONE}),
    "boolean": frozenset({bool, _NONE}),
}
_ARROW_ERRORS = (pa.ArrowException, OverflowError, UnicodeError)


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema of the rows of ``columns`` (what Spark reads as the view's schema)."""
    return pa.schema(
        [pa.field(column.name, ARROW_TYPES[column.type or "string"]) for column in columns]
    )


def _values(column: Column, records: Sequence[Any], variables: Mapping[str, str]) -> list[Any]:
    """One column's raw values, one per record."""
    if column.variable is not None:
        return [variables.get(column.variable)] * len(records)
    path = column.source or []
    if len(path) == 1:
        key = path[0]
        return [record.get(key) if isinstance(record, dict) else None for record in records]
    return [field_value(record, path) for record in records]


def column_array(values: Sequence[Any], kind: ColumnType, column: str) -> pa.Array[Any]:
    """Values as an Arrow array of the column's type, coerced exactly as ``rows`` coerces them."""
    arrow_type = ARROW_TYPES[kind]
    as_is = _AS_IS.get(kind)
    if as_is is not None and set(map(type, values)) <= as_is:
        try:
            return pa.array(values, type=arrow_type)
        except _ARROW_ERRORS:
            pass  # e.g. an int too large for a double to hold exactly: _coerce decides below
    coerced = [_coerce(value, kind, column) for value in values]
    try:
        return pa.array(coerced, type=arrow_type)
    except _ARROW_ERRORS as exc:
        raise TerminalError(
            f"column `{column}` ({kind}) got a value Spark cannot hold: {exc}"
        ) from None


class RecordBatches:
    """Collects pages of records as Arrow batches in column order, each page mapped at once.

    ``full`` takes whole batches out as they fill, so only what has not filled one is held.
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self.schema = arrow_schema(self.columns)
        self._pages: list[pa.RecordBatch] = []
        self._rows = 0
        # Columns read from one top-level field are read together, one C-level pass per page.
        self._flat = [
            index
            for index, column in enumerate(self.columns)
            if column.variable is None and len(column.source or []) == 1
        ]
        keys = [(self.columns[index].source or [""])[0] for index in self._flat]
        self._getter = operator.itemgetter(*keys) if len(keys) > 1 else None

    def _raw(self, records: Sequence[Any], variables: Mapping[str, str]) -> list[Sequence[Any]]:
        """Every column's values for one page, before coercion."""
        flat: dict[int, Sequence[Any]] = {}
        if self._getter is not None:
            # A record that lacks a field or is no object leaves it to the general path (None).
            with contextlib.suppress(KeyError, TypeError):
                # A tuple per record, transposed: several times cheaper than a loop per column.
                transposed = zip(*map(self._getter, records), strict=True)
                flat = dict(zip(self._flat, transposed, strict=True))
        return [
            flat[index] if index in flat else _values(column, records, variables)
            for index, column in enumerate(self.columns)
        ]

    def add(self, records: Sequence[Any], variables: Mapping[str, str]) -> None:
        """Map one page's records (a TerminalError names a value that does not fit its column)."""
        if not records:
            return
        arrays = [
            column_array(values, column.type or "string", column.name)
            for column, values in zip(self.columns, self._raw(records, variables), strict=True)
        ]
        self._pages.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._rows += len(records)

    @property
    def rows(self) -> int:
        """Rows held: added and not taken out by ``full``."""
        return self._rows

    def full(self, rows: int) -> list[pa.RecordBatch]:
        """Batches of exactly ``rows`` rows, taken out of what is held while it has that many."""
        if self._rows < rows:
            return []
        table = pa.Table.from_batches(self._pages, schema=self.schema).combine_chunks()
        whole = self._rows - self._rows % rows
        rest = table.slice(whole)
        self._pages = rest.to_batches() if rest.num_rows else []
        self._rows -= whole
        return table.slice(0, whole).to_batches(max_chunksize=rows)

    def batches(self, max_rows: int) -> Iterator[pa.RecordBatch]:
        """Everything held, re-cut into batches of at most ``max_rows`` rows."""
        if not self._pages:
            return iter(())
        table = pa.Table.from_batches(self._pages, schema=self.schema).combine_chunks()
        return iter(table.to_batches(max_chunksize=max_rows))
