"""``/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``: one page of bars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from standins.polygon import params
from standins.polygon.bars import bars_on_days
from standins.polygon.days import start_ms, weekdays
from standins.polygon.envelopes import aggs_body
from standins.polygon.exceptions import RequestError

TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class AggsRequest:
    """The parts of an aggregates request that decide its answer."""

    ticker: str
    multiplier: str
    timespan: str
    start: str
    end: str
    query: Mapping[str, str]


def aggs_page(
    request: AggsRequest, *, fractional_volume: bool, base_url: str, request_id: str
) -> tuple[bytes, int]:
    """The response body and its number of bars; invalid parameters raise RequestError."""
    if request.timespan not in TIMESPANS:
        raise RequestError(f"timespan {request.timespan!r} is not one of {', '.join(TIMESPANS)}")
    if request.timespan != "day" or not _is_one(request.multiplier):
        raise RequestError(
            f"this local Polygon server serves daily bars only (range/1/day), "
            f"not range/{request.multiplier}/{request.timespan}"
        )
    query = request.query
    # A next_url carries the paging state in its cursor, which wins over repeated parameters.
    state = params.decode_cursor(query["cursor"]) if "cursor" in query else {}
    limit = params.limit(
        state.get("limit", query.get("limit")), params.AGGS_DEFAULT_LIMIT, params.AGGS_MAX_LIMIT
    )
    sort = params.sort_order(state.get("sort", query.get("sort")))
    adjusted = params.flag(state.get("adjusted", query.get("adjusted")), "adjusted", True)
    first, last = params.first_day(request.start), params.last_day(request.end)
    days = weekdays(first, last, limit + 1, descending=sort == "desc")
    page = days[:limit]
    bars = bars_on_days(request.ticker, page, fractional_volume=fractional_volume)
    next_url = None
    if len(days) > limit:
        following = str(start_ms(days[limit]))
        start, end = (following, request.end) if sort == "asc" else (request.start, following)
        cursor = params.encode_cursor(
            {"limit": limit, "sort": sort, "adjusted": "true" if adjusted else "false"}
        )
        next_url = (
            f"{base_url}/v2/aggs/ticker/{quote(request.ticker, safe='')}/range/1/day/"
            f"{start}/{end}?cursor={cursor}"
        )
    return aggs_body(request.ticker, adjusted, request_id, bars, next_url), len(bars)


def _is_one(multiplier: str) -> bool:
    try:
        return int(multiplier) == 1
    except ValueError:
        return False
