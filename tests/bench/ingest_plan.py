"""The ingest benchmark's workload: the Polygon example over many tickers, and its URLs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx

from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.plan import SparkPlan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml"
#: Query of the example's aggregates endpoint, so every client asks for the same pages.
AGGS_QUERY = {"adjusted": "true", "sort": "asc", "limit": "50000"}


@dataclass(frozen=True)
class Workload:
    """Which tickers over which window, from which server with which key."""

    base_url: str
    key: str
    tickers: list[str]
    start: date
    end: date

    def path_template(self) -> str:
        """The aggregates path over the window, with a ``{ticker}`` placeholder."""
        return f"/v2/aggs/ticker/{{ticker}}/range/1/day/{self.start}/{self.end}"

    def path(self, ticker: str) -> str:
        """The aggregates path of one ticker (as the plan's URL template fills it)."""
        return self.path_template().format(ticker=quote(ticker, safe=""))

    def urls(self) -> list[str]:
        """The first page of every ticker's chain, with the example's query."""
        query = "&".join(f"{k}={v}" for k, v in AGGS_QUERY.items())
        return [f"{self.base_url}{self.path(ticker)}?{query}" for ticker in self.tickers]


def reference_tickers(base_url: str, key: str, count: int) -> list[str]:
    """The first ``count`` tickers of the server's ``/v3/reference/tickers`` listing."""
    found: list[str] = []
    url: str | None = f"{base_url}/v3/reference/tickers?market=stocks&active=true&limit=1000"
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        while url and len(found) < count:
            body = client.get(url).raise_for_status().json()
            found += [result["ticker"] for result in body["results"]]
            url = body.get("next_url")
    if len(found) < count:
        raise RuntimeError(f"the server lists {len(found)} tickers, the benchmark needs {count}")
    return found[:count]


def polygon_plan(
    work: Workload,
    table: str,
    *,
    tickers: list[str] | None = None,
    concurrent_requests: int = 8,
    append: bool = False,
) -> SparkPlan:
    """The Polygon example against the local server over ``tickers``, writing into ``table``
    (merging on its primary key, as the example does, or appending)."""
    text = EXAMPLE.read_text()
    merge = "        write_mode: merge\n        primary_key: [ticker, bar_date]\n"
    if append:
        if merge not in text:
            raise RuntimeError(f"{EXAMPLE.name} changed: its sink no longer merges")
        text = text.replace(merge, "")
    replacements = {
        "https://api.polygon.io": work.base_url,
        "table_name: market_data.stock_daily_bars": f"table_name: {table}",
        "default_tickers: [AAPL, MSFT, GOOGL, AMZN, NVDA]": (
            f"default_tickers: {json.dumps(tickers if tickers is not None else work.tickers)}"
        ),
        "concurrent_requests: 8": f"concurrent_requests: {concurrent_requests}",
        # The local server has no rate limit here: the job's own budget must not bind either.
        "      rate_limit_per_second: 100\n": "",
    }
    for old, new in replacements.items():
        if old not in text:
            raise RuntimeError(f"{EXAMPLE.name} changed: {old!r} is not in it any more")
        text = text.replace(old, new)
    result = validate(text)
    if not result.valid or result.spec is None:
        raise RuntimeError(f"the benchmark's spec is invalid: {result.errors}")
    return compile_spark(result.spec).plan
