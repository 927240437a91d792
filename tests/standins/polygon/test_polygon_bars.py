"""The bar generator: the documented formula, golden values, invariants, weekdays, `t`."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from zoneinfo import ZoneInfo

import pytest

from standins.polygon.bars import Bar, bar_on, bars

NEW_YORK = ZoneInfo("America/New_York")
TICKERS = ["AAPL", "MSFT", "BRK.B", "X:BTCUSD", "ZZZZ", "a", "ÄÖÜ"]


def documented_bar(ticker: str, day: dt.date, fractional: bool = False) -> dict[str, object]:
    """The formula as the README writes it, computed here without the package's code."""
    seed = int.from_bytes(hashlib.blake2b(ticker.encode(), digest_size=8).digest(), "big")
    base = 50_000 + seed % 4_950_000
    phase = ((seed >> 20) % 360) * 2 * math.pi / 360
    scale = 1 + (seed >> 40) % 100
    digest = hashlib.blake2b(f"{ticker}|{day:%Y-%m-%d}".encode(), digest_size=16).digest()
    u = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 16, 2)]
    mid = base * (1 + 0.25 * math.sin(2 * math.pi * day.toordinal() / 365.25 + phase))
    o = int(mid * (0.98 + 0.04 * u[0] / 65536))
    c = int(mid * (0.98 + 0.04 * u[1] / 65536))
    h = max(o, c) + max(o, c) * u[2] // 3_276_800
    low = min(o, c) - min(o, c) * u[3] // 3_276_800
    vw = low + (h - low) * u[4] // 65536
    units = scale * (20_000 + 40 * u[5])
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    return {
        "v": units + (1 + u[6] % 9999) / 10_000 if fractional else units,
        "vw": vw / 10_000,
        "o": o / 10_000,
        "c": c / 10_000,
        "h": h / 10_000,
        "l": low / 10_000,
        "t": int(midnight.timestamp() * 1000),
        "n": 1 + units // (50 + u[7] % 100),
    }


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(d) for d in range((end - start).days + 1)]


def test_golden_values_pin_the_formula() -> None:
    # Literal values: any change to the formula (and to every test's expected rows) shows here.
    assert bar_on("AAPL", dt.date(2023, 1, 9)) == Bar(
        v=120165760,
        vw=99.4827,
        o=97.9365,
        c=98.9585,
        h=100.1229,
        l=97.5483,
        t=1673240400000,
        n=1540587,
        day=dt.date(2023, 1, 9),
    )
    fractional = bar_on("FRAC", dt.date(2023, 1, 9), fractional_volume=True)
    assert fractional.v == 73580760.787
    assert (fractional.o, fractional.h, fractional.l, fractional.c) == (
        290.6879,
        302.2203,
        289.4835,
        297.8466,
    )


@pytest.mark.parametrize("ticker", TICKERS)
@pytest.mark.parametrize("fractional", [False, True])
def test_bars_follow_the_documented_formula(ticker: str, fractional: bool) -> None:
    got = bars(ticker, dt.date(2022, 12, 1), dt.date(2024, 1, 31), fractional_volume=fractional)
    expected = [
        documented_bar(ticker, day, fractional)
        for day in days(dt.date(2022, 12, 1), dt.date(2024, 1, 31))
        if day.weekday() < 5
    ]
    assert [bar.result() for bar in got] == expected


def test_invariants_hold_over_many_tickers_and_years() -> None:
    checked = 0
    for index in range(40):
        for bar in bars(f"T{index:03d}", dt.date(2015, 1, 1), dt.date(2024, 12, 31)):
            assert bar.l <= min(bar.o, bar.c) <= max(bar.o, bar.c) <= bar.h, bar
            assert bar.l <= bar.vw <= bar.h, bar
            assert bar.l > 0
            assert isinstance(bar.v, int) and bar.v > 0
            assert isinstance(bar.n, int) and bar.n > 0
            for price in (bar.o, bar.h, bar.l, bar.c, bar.vw):
                assert round(price, 4) == price
            checked += 1
    assert checked == 40 * 2609


def test_only_weekdays_have_bars() -> None:
    january = bars("AAPL", dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    assert len(january) == 22
    assert all(bar.day.weekday() < 5 for bar in january)
    assert [bar.day.day for bar in january[:6]] == [2, 3, 4, 5, 6, 9]
    assert bars("AAPL", dt.date(2023, 1, 7), dt.date(2023, 1, 8)) == []


def test_an_empty_or_reversed_window_has_no_bars() -> None:
    assert bars("AAPL", dt.date(2023, 1, 10), dt.date(2023, 1, 9)) == []
    assert len(bars("AAPL", dt.date(2023, 1, 9), dt.date(2023, 1, 9))) == 1


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (dt.date(2023, 1, 9), 5),  # EST
        (dt.date(2023, 3, 10), 5),  # the Friday before clocks go forward
        (dt.date(2023, 3, 13), 4),  # the Monday after: EDT
        (dt.date(2023, 7, 3), 4),
        (dt.date(2023, 11, 3), 4),  # the Friday before clocks go back
        (dt.date(2023, 11, 6), 5),
        (dt.date(1999, 6, 1), 4),
    ],
)
def test_t_is_midnight_in_new_york(day: dt.date, utc_hour: int) -> None:
    start = dt.datetime.fromtimestamp(bar_on("AAPL", day).t / 1000, tz=dt.UTC)
    assert start == dt.datetime(day.year, day.month, day.day, utc_hour, tzinfo=dt.UTC)


def test_fractional_volume_keeps_the_whole_units() -> None:
    window = (dt.date(2023, 1, 1), dt.date(2023, 3, 31))
    whole = bars("FRAC", *window)
    fractional = bars("FRAC", *window, fractional_volume=True)
    assert all(isinstance(bar.v, float) and not bar.v.is_integer() for bar in fractional)
    assert [math.floor(bar.v) for bar in fractional] == [bar.v for bar in whole]
    assert [bar._replace(v=0) for bar in fractional] == [bar._replace(v=0) for bar in whole]


def test_tickers_and_days_get_different_bars() -> None:
    day = dt.date(2023, 1, 9)
    closes = {bar_on(ticker, day).c for ticker in TICKERS}
    assert len(closes) == len(TICKERS)
    assert bar_on("AAPL", day) != bar_on("AAPL", day + dt.timedelta(1))
    assert bar_on("AAPL", day) == bar_on("AAPL", day)
