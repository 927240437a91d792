"""Shared pieces of the ingest tests: the stack, the warm session, the Polygon spec and expectations."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from standins.polygon import bars
from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.plan import SparkPlan

ROOT = Path(__file__).resolve().parents[3]
POLYGON = (ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml").read_text()
TICKERS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
STACK = (("postgres.sh", "start"), ("s3.sh", "start"), ("trino.sh", "start"), ("spark.sh",))


def run_script(script: str, *args: str) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"deploy/local/{script} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


def unique_namespace() -> str:
    return f"ingest_{uuid.uuid4().hex[:10]}"


def polygon_plan(base_url: str, namespace: str, **replace: str) -> SparkPlan:
    """The Polygon example pointed at the local server, writing into ``namespace``."""
    text = POLYGON.replace("https://api.polygon.io", base_url).replace(
        "table_name: market_data.stock_daily_bars", f"table_name: {namespace}.stock_daily_bars"
    )
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    result = validate(text)
    assert result.valid and result.spec is not None, result.errors
    return compile_spark(result.spec).plan


def expected_rows(start: date, end: date, run_id: str) -> list[tuple[Any, ...]]:
    """What the table must hold: the server's bars, mapped as the spec's transform maps them."""
    found = [
        (
            ticker,
            bar.day,
            bar.o,
            bar.h,
            bar.l,
            bar.c,
            bar.vw,
            bar.v,
            bar.n,
            datetime.fromtimestamp(bar.t / 1000, tz=UTC),
            run_id,
        )
        for ticker in TICKERS
        for bar in bars(ticker, start, end)
    ]
    return sorted(found, key=lambda row: (row[0], row[1]))


COLUMNS = "ticker, bar_date, open, high, low, close, vwap, volume, trades, bar_start, run_id"
