"""Keys (header or apiKey), 401/403, and the per-key rate limit with 429 and Retry-After."""

from __future__ import annotations

import time

import httpx
import pytest
from polygon_sim_setup import FORBIDDEN

from standins.polygon.config import RateLimit, SimConfig
from standins.polygon.ratelimit import RateLimiter
from standins.polygon.server import RunningSim, start_in_thread

BARS = "/v2/aggs/ticker/AAPL/range/1/day/2023-01-02/2023-01-06"


@pytest.mark.parametrize(
    ("headers", "params", "error"),
    [
        ({}, {}, "API Key was not provided"),
        ({"Authorization": "Bearer wrong"}, {}, "Unknown API Key"),
        ({"Authorization": "Bearer"}, {}, "API Key was not provided"),
        ({"Authorization": "Basic dGVzdC1rZXk6"}, {}, "API Key was not provided"),
        ({}, {"apiKey": "wrong"}, "Unknown API Key"),
        ({}, {"apiKey": ""}, "API Key was not provided"),
    ],
)
@pytest.mark.parametrize("path", [BARS, "/v3/reference/tickers"])
def test_requests_without_a_valid_key_get_401(
    sim: RunningSim, path: str, headers: dict[str, str], params: dict[str, str], error: str
) -> None:
    response = httpx.get(sim.base_url + path, headers=headers, params=params)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "ERROR"
    assert body["error"] == error
    assert len(body["request_id"]) == 32


@pytest.mark.parametrize("key", ["test-key", "other-key"])
def test_a_valid_key_works_in_the_header_or_the_query(sim: RunningSim, key: str) -> None:
    by_header = httpx.get(sim.base_url + BARS, headers={"Authorization": f"Bearer {key}"})
    by_query = httpx.get(sim.base_url + BARS, params={"apiKey": key})
    assert by_header.status_code == by_query.status_code == 200
    assert by_header.json()["results"] == by_query.json()["results"]
    assert by_query.json()["resultsCount"] == 5


def test_forbidden_ticker_is_403_not_authorized(client: httpx.Client) -> None:
    response = client.get(f"/v2/aggs/ticker/{FORBIDDEN}/range/1/day/2023-01-02/2023-01-06")
    assert response.status_code == 403
    body = response.json()
    assert body["status"] == "NOT_AUTHORIZED"
    assert "not entitled" in body["error"]


def test_the_rate_limit_answers_429_with_retry_after_then_lets_through() -> None:
    # Bursts of 2, then one request a second: the 3rd request, made at once, waits 1 s.
    config = SimConfig(port=0, keys=("a", "b"), rate_limit=RateLimit(2, 2.0), log_level="warning")
    with start_in_thread(config) as sim, httpx.Client(base_url=sim.base_url) as client:
        a, b = {"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}
        assert [client.get(BARS, headers=a).status_code for _ in range(2)] == [200, 200]
        limited = client.get(BARS, headers=a)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["status"] == "ERROR"
        assert "exceeded the maximum requests" in limited.json()["error"]
        # The bucket is per key.
        assert client.get(BARS, headers=b).status_code == 200
        time.sleep(int(limited.headers["Retry-After"]))
        assert client.get(BARS, headers=a).status_code == 200


def test_the_free_plans_rate_says_to_wait_12_seconds() -> None:
    config = SimConfig(port=0, rate_limit=RateLimit(5, 60.0), log_level="warning")
    with start_in_thread(config) as sim:
        params = {"apiKey": sim.key}
        statuses = [httpx.get(sim.base_url + BARS, params=params).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        again = httpx.get(sim.base_url + BARS, params=params)
        assert again.status_code == 429
        assert 11 <= int(again.headers["Retry-After"]) <= 12


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_the_configured_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(5, 60.0), clock)
    assert [limiter.acquire("k") for _ in range(6)] == [0, 0, 0, 0, 0, 12]
    clock.now += 6
    assert limiter.acquire("k") == 6
    clock.now += 6
    assert limiter.acquire("k") == 0
    assert limiter.acquire("k") == 12
    clock.now += 3600
    assert [limiter.acquire("k") for _ in range(6)] == [0, 0, 0, 0, 0, 12]
    assert limiter.acquire("other") == 0
    limiter.reset()
    assert limiter.acquire("k") == 0
