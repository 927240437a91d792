"""The JSON bodies the server answers with, in Polygon's shapes and key order."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from standins.polygon.bars import Bar

# One bar as Polygon writes it. %r of a float is what json.dumps writes (float.__repr__), and
# formatting bars this way is about twice as fast as building a dict per bar for json.dumps.
_BAR = '{"v":%r,"vw":%r,"o":%r,"c":%r,"h":%r,"l":%r,"t":%d,"n":%d}'
_COMPACT = (",", ":")


def request_id() -> str:
    """A new request id: 32 hex digits, like Polygon's."""
    return uuid.uuid4().hex


def aggs_body(
    ticker: str, adjusted: bool, request_id: str, bars: Sequence[Bar], next_url: str | None
) -> bytes:
    """An aggregates response; like Polygon, it has no ``results`` key when there are none."""
    head = {
        "ticker": ticker,
        "queryCount": len(bars),
        "resultsCount": len(bars),
        "adjusted": adjusted,
        "status": "OK",
        "request_id": request_id,
    }
    parts = [json.dumps(head, separators=_COMPACT)[:-1]]
    if bars:
        parts.append(',"results":[')
        parts.append(",".join([_BAR % bar[:8] for bar in bars]))
        parts.append("]")
    if next_url is not None:
        parts.append(',"next_url":')
        parts.append(json.dumps(next_url))
    parts.append("}")
    return "".join(parts).encode()


def tickers_body(results: list[dict[str, Any]], request_id: str, next_url: str | None) -> bytes:
    """A reference-tickers response."""
    body: dict[str, Any] = {
        "results": results,
        "status": "OK",
        "request_id": request_id,
        "count": len(results),
    }
    if next_url is not None:
        body["next_url"] = next_url
    return json.dumps(body, separators=_COMPACT).encode()


def error_body(status: str, request_id: str, error: str) -> bytes:
    """Polygon's error envelope (``message`` repeats ``error``: Polygon uses either name)."""
    body = {"status": status, "request_id": request_id, "error": error}
    if status != "ERROR":
        body["message"] = error
    return json.dumps(body, separators=_COMPACT).encode()


def json_body(data: object) -> bytes:
    """Any JSON document (the control endpoints)."""
    return json.dumps(data, separators=_COMPACT).encode()
