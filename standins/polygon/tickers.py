"""``/v3/reference/tickers``: one page of the ticker universe."""

from __future__ import annotations

from collections.abc import Mapping

from standins.polygon import params
from standins.polygon.envelopes import tickers_body
from standins.polygon.exceptions import RequestError
from standins.polygon.universe import reference, universe

MARKETS = ("stocks", "crypto", "fx", "otc", "indices")


def tickers_page(
    query: Mapping[str, str], *, universe_size: int, base_url: str, request_id: str
) -> bytes:
    """The response body; invalid parameters raise RequestError."""
    # A next_url carries the whole query in its cursor, which wins over repeated parameters.
    state = dict(query)
    state.pop("apiKey", None)
    if "cursor" in query:
        state = params.decode_cursor(query["cursor"])
    market = state.get("market") or "stocks"
    if market not in MARKETS:
        raise RequestError(f"market must be one of {', '.join(MARKETS)}, got {market!r}")
    active = params.flag(state.get("active"), "active", True)
    limit = params.limit(state.get("limit"), params.TICKERS_DEFAULT_LIMIT, params.TICKERS_MAX_LIMIT)
    offset = _offset(state.get("offset", "0")) if "cursor" in query else 0
    ticker = state.get("ticker") or None
    # Every listing here is an active US stock; other markets and inactive listings are empty.
    listings = universe(universe_size) if market == "stocks" and active else ()
    if ticker is not None:
        listings = tuple(listing for listing in listings if listing[0] == ticker)
    page = listings[offset : offset + limit]
    next_url = None
    if offset + limit < len(listings):
        cursor: dict[str, str | int] = {
            "market": market,
            "active": "true",
            "limit": limit,
            "offset": offset + limit,
        }
        if ticker is not None:
            cursor["ticker"] = ticker
        next_url = f"{base_url}/v3/reference/tickers?cursor={params.encode_cursor(cursor)}"
    return tickers_body([reference(listing) for listing in page], request_id, next_url)


def _offset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"cursor offset {text!r} is not an integer") from None
    if value < 0:
        raise RequestError(f"cursor offset {value} is negative")
    return value
