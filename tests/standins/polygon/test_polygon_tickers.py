"""GET /v3/reference/tickers: the universe, its fields, cursor paging and filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from polygon_sim_setup import UNIVERSE

from standins.polygon.server import RunningSim
from standins.polygon.universe import tickers

PATH = "/v3/reference/tickers"
FIELDS = {
    "ticker",
    "name",
    "market",
    "locale",
    "primary_exchange",
    "type",
    "active",
    "currency_name",
    "last_updated_utc",
}


def all_pages(client: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [client.get(PATH, params=params).json()]
    while "next_url" in pages[-1]:
        response = client.get(pages[-1]["next_url"])
        assert response.status_code == 200, response.text
        pages.append(response.json())
        assert len(pages) < 50
    return pages


def test_paging_walks_the_whole_universe_once(sim: RunningSim, client: httpx.Client) -> None:
    pages = all_pages(client, {"market": "stocks", "active": "true", "limit": 1000})
    assert [page["count"] for page in pages] == [1000, 1000, 500]
    assert all(page["status"] == "OK" and len(page["request_id"]) == 32 for page in pages)
    results = [result for page in pages for result in page["results"]]
    symbols = [result["ticker"] for result in results]
    assert len(set(symbols)) == UNIVERSE
    assert symbols[:5] == ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
    assert symbols == tickers(UNIVERSE)
    next_url = pages[0]["next_url"]
    assert next_url.startswith(sim.base_url + PATH + "?")
    assert list(parse_qs(urlsplit(next_url).query)) == ["cursor"]
    assert "next_url" not in pages[-1]


def test_results_have_polygons_fields(client: httpx.Client) -> None:
    results = client.get(PATH, params={"limit": 1000}).json()["results"]
    assert results[0] == {
        "ticker": "AAPL",
        "name": "Apple Inc.",
        "market": "stocks",
        "locale": "us",
        "primary_exchange": "XNAS",
        "type": "CS",
        "active": True,
        "currency_name": "usd",
        "last_updated_utc": "2024-01-02T00:00:00Z",
    }
    assert all(set(result) == FIELDS for result in results)
    synthetic = results[-1]
    assert synthetic["ticker"].isalpha() and len(synthetic["ticker"]) == 4
    assert synthetic["name"] == f"Synthetic {synthetic['ticker']} Inc."
    assert {result["primary_exchange"] for result in results} == {"XNAS", "XNYS"}


def test_limit_defaults_to_100_and_is_capped_at_1000(client: httpx.Client) -> None:
    assert client.get(PATH).json()["count"] == 100
    assert client.get(PATH, params={"limit": 5000}).json()["count"] == 1000


def test_the_universe_is_deterministic_and_sized() -> None:
    assert tickers(UNIVERSE) == tickers(UNIVERSE)
    assert tickers(10_000)[:UNIVERSE] == tickers(UNIVERSE)
    assert len(set(tickers(50_000))) == 50_000
    assert tickers(3) == ["AAPL", "MSFT", "GOOGL"]


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"ticker": "MSFT"}, 1),
        ({"ticker": "NOPE1"}, 0),
        ({"market": "crypto"}, 0),
        ({"active": "false"}, 0),
    ],
)
def test_filters(client: httpx.Client, params: dict[str, str], count: int) -> None:
    body = client.get(PATH, params=params).json()
    assert body["count"] == count == len(body["results"])
    assert "next_url" not in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"market": "bonds"}, "market must be one of"),
        ({"limit": "-1"}, "at least 1"),
        ({"active": "sometimes"}, "true or false"),
        ({"cursor": "bm9wZQ"}, "cursor"),
    ],
)
def test_bad_parameters_get_400(client: httpx.Client, params: dict[str, str], message: str) -> None:
    response = client.get(PATH, params=params)
    assert response.status_code == 400
    assert response.json()["status"] == "ERROR"
    assert message in response.json()["error"]
