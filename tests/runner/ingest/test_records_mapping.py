"""Records → rows: field paths, variable columns, type inference, and coercion to column types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from runner.ingest.exceptions import TerminalError
from runner.ingest.records import RecordBatches, columns_of, field_value, infer_type, rows
from uis_compiler.columns import ColumnType
from uis_compiler.plan import Column, Endpoint, Pagination

RECORD = {"id": 7, "day": {"close": 101.5, "meta": {"venue": "XNAS"}}, "note": None, "tags": [1]}


def endpoint(columns: list[Column] | None) -> Endpoint:
    return Endpoint(
        name="quotes",
        view="quotes",
        method="GET",
        url="http://127.0.0.1/quotes",
        headers={},
        query={},
        pagination=Pagination(mode="none", max_pages=1),
        response_path="$",
        columns=columns,
        fan_out=[],
        variables=[],
    )


def col(name: str, source: str | None = None, kind: ColumnType | None = None) -> Column:
    return Column(name=name, source=(source or name).split("."), type=kind)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["id"], 7),
        (["day", "close"], 101.5),
        (["day", "meta", "venue"], "XNAS"),
        (["day", "meta"], {"venue": "XNAS"}),
        (["missing"], None),
        (["day", "open"], None),
        (["note"], None),
        (["note", "deeper"], None),
        # A list is not a mapping: a dotted path does not index into it.
        (["tags", "0"], None),
        (["id", "deeper"], None),
    ],
)
def test_field_value_follows_dotted_paths(path: list[str], expected: Any) -> None:
    assert field_value(RECORD, path) == expected


def test_field_value_of_a_record_that_is_not_an_object_is_none() -> None:
    assert field_value([1, 2], ["id"]) is None
    assert field_value("text", ["id"]) is None
    assert field_value({"id": 1}, []) == {"id": 1}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, None], "long"),
        ([1, 2.5], "double"),
        ([2.5], "double"),
        ([True, False, None], "boolean"),
        # bool is an int in Python, but a column of flags and counts is neither.
        ([True, 1], "string"),
        (["a", 1], "string"),
        ([{"a": 1}], "string"),
        ([[1, 2]], "string"),
        ([None, None], "string"),
        ([], "string"),
    ],
)
def test_infer_type(values: list[Any], expected: ColumnType) -> None:
    assert infer_type(values) == expected


def test_unmapped_endpoint_takes_every_field_in_first_seen_order() -> None:
    sample = [{"b": 1, "a": "x"}, {"a": "y", "c": {"k": True}}, "not a record"]
    columns = columns_of(endpoint(None), sample)
    assert [(c.name, c.source, c.type) for c in columns] == [
        ("b", ["b"], "long"),
        ("a", ["a"], "string"),
        ("c", ["c"], "string"),
    ]


def test_mapped_columns_keep_declared_types_and_infer_the_rest() -> None:
    columns = [
        col("close", "day.close", "double"),
        col("venue", "day.meta.venue"),
        col("id"),
        Column(name="ticker", variable="ticker"),
        Column(name="day", variable="start_date", type="date"),
    ]
    typed = columns_of(endpoint(columns), [RECORD])
    assert [(c.name, c.type) for c in typed] == [
        ("close", "double"),
        ("venue", "string"),
        ("id", "long"),
        ("ticker", "string"),
        ("day", "date"),
    ]


def test_rows_map_paths_variables_and_missing_fields() -> None:
    columns = [
        col("id", kind="long"),
        col("close", "day.close", "double"),
        col("meta", "day.meta", "string"),
        col("tags", kind="string"),
        col("absent", "day.open", "double"),
        Column(name="ticker", variable="ticker", type="string"),
        Column(name="unset", variable="not_a_variable", type="string"),
    ]
    records = [RECORD, {"id": "8"}]
    assert rows(records, columns, {"ticker": "AAPL"}) == [
        (7, 101.5, '{"venue":"XNAS"}', "[1]", None, "AAPL", None),
        (8, None, None, None, None, "AAPL", None),
    ]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (3, "long", 3),
        (3.0, "long", 3),
        ("-42", "long", -42),
        (True, "long", 1),
        (2, "double", 2.0),
        ("2.5", "double", 2.5),
        (False, "boolean", False),
        ("text", "string", "text"),
        (12, "string", "12"),
        (True, "string", "true"),
        ({"b": [1, {"c": None}]}, "string", '{"b":[1,{"c":null}]}'),
        ("2024-01-02", "date", date(2024, 1, 2)),
        ("2024-01-02T23:30:00Z", "date", date(2024, 1, 2)),
        (1704153600000, "timestamp", datetime(2024, 1, 2, tzinfo=UTC)),
        (1704153600123.0, "timestamp", datetime(2024, 1, 2, 0, 0, 0, 123000, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", "timestamp", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", "timestamp", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (None, "long", None),
        (None, "timestamp", None),
    ],
)
def test_values_are_coerced_to_the_column_type(value: Any, kind: ColumnType, expected: Any) -> None:
    ((got,),) = rows([{"v": value}], [col("v", kind=kind)], {})
    assert got == expected
    assert type(got) is type(expected)


def test_epoch_milliseconds_are_utc_instants() -> None:
    ((got,),) = rows([{"t": 1704153600000}], [col("t", kind="timestamp")], {})
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got.isoformat() == "2024-01-02T00:00:00+00:00"


def test_a_timestamp_without_an_offset_is_taken_as_utc() -> None:
    # Runs use the UTC session time zone; a naive value would follow the executor's local zone.
    ((got,),) = rows([{"t": "2024-01-02T03:04:05"}], [col("t", kind="timestamp")], {})
    assert got == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    offset = rows([{"t": "2024-01-02T03:04:05-05:00"}], [col("t", kind="timestamp")], {})[0][0]
    assert offset == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))


def map_records(mapper: str, records: list[Any], columns: list[Column]) -> None:
    """Map with the one-tuple-per-record path, or the executors' Arrow path."""
    if mapper == "rows":
        rows(records, columns, {})
    else:
        RecordBatches(columns).add(records, {})


@pytest.mark.parametrize(
    ("value", "kind", "fragment"),
    [
        (1.5, "long", "declared integer, but the source sent 1.5"),
        ("1.5", "long", "declared integer, but the source sent '1.5'"),
        ("ten", "long", "declared integer"),
        (float("nan"), "long", "declared integer"),
        # Past a 64-bit long, Spark would fail later with an error naming no column.
        (2**63, "long", "does not fit"),
        (-(2**63) - 1, "long", "does not fit"),
        ("abc", "double", "is a number, but the source sent 'abc'"),
        (True, "double", "is a number"),
        ([1.5], "double", "is a number"),
        ("yes", "boolean", "is a boolean, but the source sent 'yes'"),
        (1, "boolean", "is a boolean"),
        ("yesterday", "timestamp", "timestamp"),
        ({"at": 1}, "timestamp", "timestamp"),
        ("2024-13-45", "date", "date"),
    ],
)
@pytest.mark.parametrize("mapper", ["rows", "arrow"])
def test_a_value_that_does_not_fit_is_terminal_and_names_the_column(
    value: Any, kind: ColumnType, fragment: str, mapper: str
) -> None:
    columns = [col("price", "x", kind)]
    # The first record fits (it is missing): the error is about the second.
    records = [{}, {"x": value}]
    with pytest.raises(TerminalError) as raised:
        map_records(mapper, records, columns)
    message = str(raised.value)
    assert "`price`" in message
    assert fragment in message


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("long", [1, None, 3.0, "4", True]),
        ("double", [1, 2.5, None, "3.25"]),
        ("string", ["a", 1, {"k": [1]}, None, False]),
        ("boolean", [True, None, False]),
        ("timestamp", [1704153600000, "2024-01-02T03:04:05Z", "2024-01-02T03:04:05", None]),
        ("date", ["2024-01-02", "2024-01-02T23:59:59Z", None]),
    ],
)
def test_arrow_batches_hold_the_same_values_as_rows(kind: ColumnType, values: list[Any]) -> None:
    columns = [col("v", kind=kind), Column(name="ticker", variable="ticker", type="string")]
    records = [{"v": value} for value in values]
    batches = RecordBatches(columns)
    batches.add(records, {"ticker": "MSFT"})
    (batch,) = list(batches.batches(100))
    as_rows = rows(records, columns, {"ticker": "MSFT"})
    assert batch.to_pylist() == [{"v": v, "ticker": t} for v, t in as_rows]
