"""Large volumes: many tickers' years of bars over HTTP, with a throughput figure (not timed)."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from standins.polygon.bars import bars
from standins.polygon.server import RunningSim
from standins.polygon.universe import tickers

START, END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
PER_YEAR = 260


def test_fifty_tickers_for_a_year(
    sim: RunningSim, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    symbols = [
        result["ticker"]
        for result in client.get("/v3/reference/tickers", params={"limit": 50}).json()["results"]
    ]
    assert symbols == tickers(50)
    sim.reset()
    started = time.perf_counter()
    received = {}
    for ticker in symbols:
        url = f"/v2/aggs/ticker/{ticker}/range/1/day/{START}/{END}"
        body = client.get(url, params={"adjusted": "true", "sort": "asc", "limit": 50_000}).json()
        received[ticker] = body["results"]
    elapsed = time.perf_counter() - started
    assert sum(len(results) for results in received.values()) == 50 * PER_YEAR
    for ticker in (symbols[0], symbols[25], symbols[-1]):
        assert received[ticker] == [bar.result() for bar in bars(ticker, START, END)]
    assert sim.stats()["bars"] == 50 * PER_YEAR
    generated = time.perf_counter()
    for index in range(200):
        bars(f"G{index}", START, END)
    generation = 200 * PER_YEAR / (time.perf_counter() - generated)
    with capsys.disabled():
        print(
            f"\npolygon-sim: {50 * PER_YEAR / elapsed:,.0f} bars/s over HTTP (one client, "
            f"same process), {generation:,.0f} bars/s generated in process"
        )
