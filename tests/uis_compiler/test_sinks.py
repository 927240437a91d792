"""Sink interpretation: partitions, the window column, table names, and where an overwrite
and its partitioning disagree."""

from __future__ import annotations

import pytest
from uis_docs import document

from uis_compiler import codes, validate
from uis_compiler.sinks import PartitionField, is_table_name, parse_partition, window_column


@pytest.mark.parametrize(
    ("text", "field", "ddl"),
    [
        ("ticker", PartitionField("identity", "ticker"), "ticker"),
        ("months(bar_date)", PartitionField("months", "bar_date"), "months(bar_date)"),
        ("bucket(16, id)", PartitionField("bucket", "id", 16), "bucket(16, id)"),
        (" truncate( 4 ,name ) ", PartitionField("truncate", "name", 4), "truncate(4, name)"),
    ],
)
def test_partitions(text: str, field: PartitionField, ddl: str) -> None:
    parsed = parse_partition(text)
    assert parsed == field
    assert parsed.expression == ddl


@pytest.mark.parametrize("text", ["month(ts)", "bucket(id)", "days(a, b)", "a b", ""])
def test_bad_partitions(text: str) -> None:
    with pytest.raises(ValueError, match="Iceberg transform"):
        parse_partition(text)


def test_table_names() -> None:
    assert is_table_name("market_data.stock_daily_bars")
    assert not is_table_name("stock_daily_bars")
    assert not is_table_name("a.b.c")
    assert not is_table_name(None)


@pytest.mark.parametrize(
    ("partition_by", "column"),
    [
        (["months(bar_date)"], "bar_date"),
        (["bucket(16, ticker)", "hours(ts)", "days(other)"], "ts"),
        (["ticker", "bucket(4, id)"], None),
        (["month(ts)", "years(day)"], "day"),
        ([], None),
    ],
)
def test_the_window_column_is_the_first_time_partitions(
    partition_by: list[str], column: str | None
) -> None:
    assert window_column(partition_by) == column


def _overwrite_warnings(partition_by: str, path: str = "/items") -> list[str]:
    text = document(
        replace={
            "write_mode: append": "write_mode: overwrite_partitions",
            "      config:": f"      partition_by: {partition_by}\n      config:",
            "path: /items": f"path: {path}",
        }
    )
    result = validate(text)
    assert result.valid, result.issues
    return [i.message for i in result.issues if i.code == codes.OVERWRITE_UNBOUNDED.id]


def test_an_overwrite_warns_only_where_its_partitioning_cannot_bound_it() -> None:
    windowed = "/items/{{ start_date }}/{{ to_date }}"
    assert _overwrite_warnings('["months(day)"]', windowed) == []
    assert _overwrite_warnings("[country]") == []
    (whole,) = _overwrite_warnings("[]")
    assert "replaces the whole table" in whole
    (refused,) = _overwrite_warnings('["bucket(8, id)"]', windowed)
    assert "(its requests use end_date, start_date)" in refused
    assert "replace whole partitions with one window's rows" in refused
