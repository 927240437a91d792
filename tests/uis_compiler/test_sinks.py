"""Sink interpretation: partitions, table names, source views, primary keys."""

from __future__ import annotations

import pytest

from uis_compiler.sinks import PartitionField, is_table_name, parse_partition


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
