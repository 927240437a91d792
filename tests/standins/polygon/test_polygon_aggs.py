"""GET /v2/aggs/ticker/…: envelope, exact values, weekdays, next_url paging, parameter errors."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from polygon_sim_setup import FRACTIONAL

from standins.polygon.bars import bars
from standins.polygon.server import RunningSim

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def aggs(ticker: str, start: str, end: str) -> str:
    return f"/v2/aggs/ticker/{ticker}/range/1/day/{start}/{end}"


def expected(ticker: str, start: dt.date, end: dt.date, **options: Any) -> list[dict[str, Any]]:
    return [bar.result() for bar in bars(ticker, start, end, **options)]


def follow(client: httpx.Client, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page, following next_url; returns the pages' bodies."""
    pages = [client.get(url, params=params).json()]
    while "next_url" in pages[-1]:
        response = client.get(pages[-1]["next_url"])
        assert response.status_code == 200, response.text
        pages.append(response.json())
        assert len(pages) < 100
    return pages


def test_envelope_and_values_are_exact(client: httpx.Client) -> None:
    response = client.get(aggs("AAPL", "2023-01-09", "2023-01-10"), params={"adjusted": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == [
        "ticker",
        "queryCount",
        "resultsCount",
        "adjusted",
        "status",
        "request_id",
        "results",
    ]
    assert HEX32.match(body.pop("request_id"))
    assert body == {
        "ticker": "AAPL",
        "queryCount": 2,
        "resultsCount": 2,
        "adjusted": True,
        "status": "OK",
        "results": [
            {
                "v": 120165760,
                "vw": 99.4827,
                "o": 97.9365,
                "c": 98.9585,
                "h": 100.1229,
                "l": 97.5483,
                "t": 1673240400000,
                "n": 1540587,
            },
            {
                "v": 26680160,
                "vw": 98.9263,
                "o": 97.2971,
                "c": 98.5284,
                "h": 99.9338,
                "l": 96.4941,
                "t": 1673326800000,
                "n": 333503,
            },
        ],
    }


def test_a_year_matches_the_generator(client: httpx.Client) -> None:
    body = client.get(aggs("MSFT", "2023-01-01", "2023-12-31")).json()
    assert body["resultsCount"] == 260
    assert body["results"] == expected("MSFT", dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    assert "next_url" not in body


def test_fractional_volume_ticker(client: httpx.Client) -> None:
    body = client.get(aggs(FRACTIONAL, "2023-01-02", "2023-01-31")).json()
    assert body["results"] == expected(
        FRACTIONAL, dt.date(2023, 1, 2), dt.date(2023, 1, 31), fractional_volume=True
    )
    assert all(not float(bar["v"]).is_integer() for bar in body["results"])


def test_weekends_have_no_bars(client: httpx.Client) -> None:
    body = client.get(aggs("AAPL", "2023-01-06", "2023-01-09")).json()
    days = [dt.datetime.fromtimestamp(bar["t"] / 1000, tz=dt.UTC).date() for bar in body["results"]]
    assert days == [dt.date(2023, 1, 6), dt.date(2023, 1, 9)]
    weekend = client.get(aggs("AAPL", "2023-01-07", "2023-01-08")).json()
    # Like Polygon: an empty window has counts of 0 and no `results` key at all.
    assert weekend["resultsCount"] == weekend["queryCount"] == 0
    assert "results" not in weekend and "next_url" not in weekend


def test_next_url_pages_cover_every_bar_once_with_the_header_sent_again(
    sim: RunningSim, client: httpx.Client
) -> None:
    pages = follow(client, aggs("AAPL", "2023-01-01", "2023-01-31"), {"limit": 2, "sort": "asc"})
    assert len(pages) == 11
    assert [page["resultsCount"] for page in pages] == [2] * 11
    collected = [bar for page in pages for bar in page["results"]]
    assert collected == expected("AAPL", dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    next_url = pages[0]["next_url"]
    parts = urlsplit(next_url)
    assert f"{parts.scheme}://{parts.netloc}" == sim.base_url
    assert parts.path == f"/v2/aggs/ticker/AAPL/range/1/day/{collected[2]['t']}/2023-01-31"
    assert list(parse_qs(parts.query)) == ["cursor"]
    # next_url carries no key: without the header it is refused.
    assert httpx.get(next_url).status_code == 401


def test_next_url_never_carries_a_query_key(sim: RunningSim) -> None:
    params = {"limit": 3, "apiKey": sim.key}
    first = httpx.get(sim.base_url + aggs("AAPL", "2023-01-01", "2023-01-31"), params=params)
    next_url = first.json()["next_url"]
    assert sim.key not in next_url and "apiKey" not in next_url
    again = httpx.get(f"{next_url}&apiKey={sim.key}").json()
    assert again["resultsCount"] == 3
    assert again["results"][0]["t"] > first.json()["results"][-1]["t"]


def test_descending_pages(client: httpx.Client) -> None:
    pages = follow(client, aggs("NVDA", "2023-01-01", "2023-02-28"), {"limit": 7, "sort": "desc"})
    collected = [bar for page in pages for bar in page["results"]]
    assert collected == expected("NVDA", dt.date(2023, 1, 1), dt.date(2023, 2, 28))[::-1]
    assert urlsplit(pages[0]["next_url"]).path.startswith(
        "/v2/aggs/ticker/NVDA/range/1/day/2023-01-01/"
    )


def test_tickers_with_dots_page_too(client: httpx.Client) -> None:
    pages = follow(client, aggs("BRK.B", "2023-01-01", "2023-01-31"), {"limit": 10})
    assert [bar for page in pages for bar in page["results"]] == expected(
        "BRK.B", dt.date(2023, 1, 1), dt.date(2023, 1, 31)
    )


def test_epoch_millisecond_bounds(client: httpx.Client) -> None:
    january = expected("AAPL", dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    t9 = january[5]["t"]  # Monday 9 January
    body = client.get(aggs("AAPL", str(t9), "2023-01-31")).json()
    assert body["results"] == january[5:]
    # One millisecond after a bar's start: that bar is no longer in the window.
    assert client.get(aggs("AAPL", str(t9 + 1), "2023-01-31")).json()["results"] == january[6:]
    assert client.get(aggs("AAPL", "2023-01-01", str(t9))).json()["results"] == january[:6]
    assert client.get(aggs("AAPL", "2023-01-01", str(t9 - 1))).json()["results"] == january[:5]


def test_limit_defaults_to_5000_and_is_capped_at_50000(client: httpx.Client) -> None:
    whole = client.get(aggs("AAPL", "1990-01-01", "2019-12-31")).json()
    assert whole["resultsCount"] == 5000 and "next_url" in whole
    capped = client.get(aggs("AAPL", "1900-01-01", "2099-12-31"), params={"limit": 60_000})
    body = capped.json()
    assert body["resultsCount"] == 50_000 and "next_url" in body
    first, last = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
    weekdays = sum((first + dt.timedelta(d)).weekday() < 5 for d in range((last - first).days + 1))
    rest = client.get(body["next_url"]).json()
    assert rest["resultsCount"] == weekdays - 50_000 and "next_url" not in rest
    assert rest["results"][0]["t"] > body["results"][-1]["t"]


def test_adjusted_is_echoed_and_kept_across_pages(client: httpx.Client) -> None:
    pages = follow(
        client, aggs("AAPL", "2023-01-02", "2023-01-13"), {"adjusted": "false", "limit": 4}
    )
    assert [page["adjusted"] for page in pages] == [False, False, False]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/v2/aggs/ticker/AAPL/range/1/hour/2023-01-01/2023-01-31", {}, "daily bars only"),
        ("/v2/aggs/ticker/AAPL/range/2/day/2023-01-01/2023-01-31", {}, "range/2/day"),
        ("/v2/aggs/ticker/AAPL/range/x/day/2023-01-01/2023-01-31", {}, "range/x/day"),
        (
            "/v2/aggs/ticker/AAPL/range/1/fortnight/2023-01-01/2023-01-31",
            {},
            "timespan 'fortnight'",
        ),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-13-01/2023-01-31", {}, "parameter: 'from'"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/yesterday", {}, "parameter: 'to'"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2023-01-31", {"sort": "up"}, "sort must be"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2023-01-31", {"limit": 0}, "at least 1"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2023-01-31", {"limit": "ten"}, "integer"),
        (
            "/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2023-01-31",
            {"adjusted": "yes"},
            "true or false",
        ),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/2023-01-31", {"cursor": "%%%"}, "cursor"),
        ("/v2/aggs/ticker/AAPL/range/1/day/999999999999999/2023-01-31", {}, "out of range"),
        ("/v2/aggs/ticker/AAPL/range/1/day/1899-12-29/2023-01-31", {}, "out of range: 1899"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2023-01-01/9999-12-31", {}, "out of range: 9999"),
    ],
)
def test_bad_parameters_get_400_with_polygon_error(
    client: httpx.Client, path: str, params: dict[str, Any], message: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "ERROR" and HEX32.match(body["request_id"])
    assert message in body["error"]


def test_unknown_path_is_404_not_found(client: httpx.Client) -> None:
    response = client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.json()["status"] == "NOT_FOUND"
