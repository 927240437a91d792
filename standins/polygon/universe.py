"""The reference-ticker universe: well-known names first, then deterministic synthetic ones."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: (ticker, name, primary exchange) of real listings, served first.
WELL_KNOWN: tuple[tuple[str, str, str], ...] = (
    ("AAPL", "Apple Inc.", "XNAS"),
    ("MSFT", "Microsoft Corp", "XNAS"),
    ("GOOGL", "Alphabet Inc. Class A Common Stock", "XNAS"),
    ("AMZN", "Amazon.com, Inc.", "XNAS"),
    ("NVDA", "NVIDIA Corp", "XNAS"),
    ("META", "Meta Platforms, Inc. Class A Common Stock", "XNAS"),
    ("TSLA", "Tesla, Inc. Common Stock", "XNAS"),
    ("BRK.B", "Berkshire Hathaway Inc. Class B", "XNYS"),
    ("JPM", "JPMorgan Chase & Co.", "XNYS"),
    ("V", "Visa Inc.", "XNYS"),
    ("JNJ", "Johnson & Johnson", "XNYS"),
    ("WMT", "Walmart Inc.", "XNYS"),
    ("XOM", "Exxon Mobil Corp", "XNYS"),
    ("UNH", "UnitedHealth Group Inc", "XNYS"),
    ("PG", "Procter & Gamble Company", "XNYS"),
    ("MA", "Mastercard Incorporated", "XNYS"),
    ("HD", "Home Depot, Inc.", "XNYS"),
    ("KO", "Coca-Cola Company", "XNYS"),
    ("PEP", "PepsiCo, Inc.", "XNAS"),
    ("INTC", "Intel Corp", "XNAS"),
)
LAST_UPDATED_UTC = "2024-01-02T00:00:00Z"
_CODES = 26**4
# Coprime with 26**4, so i -> (i * _STRIDE + _OFFSET) % 26**4 visits every 4-letter code once.
_STRIDE, _OFFSET = 7919, 123_457


@lru_cache(maxsize=8)
def universe(size: int) -> tuple[tuple[str, str, str], ...]:
    """The first ``size`` listings (ticker, name, exchange); the same for the same size."""
    listings = list(WELL_KNOWN[:size])
    taken = {ticker for ticker, _, _ in WELL_KNOWN}
    index = 0
    while len(listings) < size:
        code = _code((index * _STRIDE + _OFFSET) % _CODES)
        index += 1
        if code not in taken:
            exchange = "XNAS" if index % 2 else "XNYS"
            listings.append((code, f"Synthetic {code} Inc.", exchange))
    return tuple(listings)


def tickers(size: int) -> list[str]:
    """The ticker symbols of the universe, in order."""
    return [ticker for ticker, _, _ in universe(size)]


def reference(listing: tuple[str, str, str]) -> dict[str, Any]:
    """A listing as an element of ``/v3/reference/tickers`` results."""
    ticker, name, exchange = listing
    return {
        "ticker": ticker,
        "name": name,
        "market": "stocks",
        "locale": "us",
        "primary_exchange": exchange,
        "type": "CS",
        "active": True,
        "currency_name": "usd",
        "last_updated_utc": LAST_UPDATED_UTC,
    }


def _code(number: int) -> str:
    letters = []
    for _ in range(4):
        number, digit = divmod(number, 26)
        letters.append(chr(ord("A") + digit))
    return "".join(reversed(letters))
