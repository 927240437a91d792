"""Records → Arrow batches: the same values as ``rows`` gives, and the same refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from runner.ingest.exceptions import TerminalError
from runner.ingest.records import RecordBatches, arrow_schema, rows
from uis_compiler.columns import ColumnType
from uis_compiler.plan import Column

VARIABLES = {"ticker": "AAPL"}


def column(name: str, kind: ColumnType, source: list[str] | None = None) -> Column:
    return Column(name=name, source=source if source is not None else [name], type=kind)


def batched(records: list[Any], columns: list[Column], pages: int = 1) -> list[tuple[Any, ...]]:
    """The rows RecordBatches yields for ``records`` split into ``pages`` pages."""
    out = RecordBatches(columns)
    size = max(1, -(-len(records) // pages))
    for start in range(0, len(records), size):
        out.add(records[start : start + size], VARIABLES)
    table = pa.Table.from_batches(list(out.batches(3)), schema=arrow_schema(columns))
    return [tuple(row.values()) for row in table.to_pylist()]


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("long", [1, 2.0, "-3", True, None, 2**62]),
        ("double", [1.5, 2, "2.25", None, 2**53 + 1, -0.0]),
        ("string", ["a", 1, 2.5, {"b": [1, None]}, [1, 2], True, None]),
        ("boolean", [True, False, None]),
        ("date", ["2024-01-02", "2024-01-03T10:00:00Z", None]),
        ("timestamp", [1673240400000, 1673240400123.5, "2024-01-02T03:04:05Z", "2024-01-02", None]),
    ],
)
def test_values_are_coerced_as_rows_coerces_them(kind: ColumnType, values: list[Any]) -> None:
    columns = [column("v", kind)]
    records = [{"v": value} for value in values]
    expected = rows(records, columns, VARIABLES)
    assert batched(records, columns) == expected
    assert batched(records, columns, pages=len(records)) == expected


def test_variables_paths_and_missing_fields() -> None:
    columns = [
        Column(name="ticker", variable="ticker", type="string"),
        column("price", "double", ["quote", "price"]),
        column("n", "long"),
        column("whole", "string", []),
    ]
    records: list[Any] = [
        {"quote": {"price": 10.5}, "n": 3},
        {"quote": None, "n": None},
        {"other": 1},
        "not an object",
    ]
    found = batched(records, columns)
    assert found == rows(records, columns, VARIABLES)
    assert found[0] == ("AAPL", 10.5, 3, '{"quote":{"price":10.5},"n":3}')
    assert found[3] == ("AAPL", None, None, "not an object")


def test_arrow_types_are_what_spark_reads() -> None:
    kinds: list[ColumnType] = ["string", "long", "double", "boolean", "date", "timestamp"]
    schema = arrow_schema([column(kind, kind) for kind in kinds])
    assert [str(field.type) for field in schema] == [
        "string", "int64", "double", "bool", "date32[day]", "timestamp[us, tz=UTC]",
    ]  # fmt: skip


def test_timestamps_and_dates_keep_their_values() -> None:
    columns = [column("t", "timestamp"), column("d", "date")]
    found = batched([{"t": 1673240400000, "d": "2023-01-09"}], columns)
    assert found == [(datetime(2023, 1, 9, 5, 0, tzinfo=UTC), date(2023, 1, 9))]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("long", 1.5, "column `v` is declared integer, but the source sent 1.5"),
        ("long", "1e3", "column `v` is declared integer, but the source sent '1e3'"),
        ("long", 2**64, "column `v` is a 64-bit integer, and 18446744073709551616 does not fit"),
        ("double", True, "column `v` is a number, but the source sent True"),
        ("double", "abc", "column `v` is a number, but the source sent 'abc'"),
        ("boolean", 1, "column `v` is a boolean, but the source sent 1"),
        ("string", "\ud800", "column `v` (string) got a value Spark cannot hold"),
    ],
)
def test_values_that_do_not_fit_are_terminal(kind: ColumnType, value: Any, message: str) -> None:
    out = RecordBatches([column("v", kind)])
    with pytest.raises(TerminalError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        out.add([{"v": 1 if kind != "string" else "ok"}, {"v": value}], VARIABLES)


def test_batches_are_recut_and_empty_pages_add_nothing() -> None:
    out = RecordBatches([column("n", "long")])
    out.add([], VARIABLES)
    assert list(out.batches(4)) == []
    for start in range(0, 10, 3):
        out.add([{"n": n} for n in range(start, min(start + 3, 10))], VARIABLES)
    batches = list(out.batches(4))
    assert [batch.num_rows for batch in batches] == [4, 4, 2]
    assert [n for batch in batches for n in batch.column(0).to_pylist()] == list(range(10))
    assert out.rows == 10


def test_full_takes_whole_batches_out_and_holds_the_rest() -> None:
    out = RecordBatches([column("n", "long")])
    out.add([{"n": n} for n in range(3)], VARIABLES)
    assert out.full(4) == []
    out.add([{"n": n} for n in range(3, 10)], VARIABLES)
    taken = out.full(4)
    assert [batch.num_rows for batch in taken] == [4, 4]
    assert [n for batch in taken for n in batch.column(0).to_pylist()] == list(range(8))
    assert out.rows == 2
    assert out.full(4) == []
    assert [n for batch in out.batches(4) for n in batch.column(0).to_pylist()] == [8, 9]
