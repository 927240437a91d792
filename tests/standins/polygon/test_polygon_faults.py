"""Injected faults: 5xx rates, slow answers, malformed bodies, resets, exact rules, control."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from standins import serving
from standins.polygon.app import create_app
from standins.polygon.config import FaultConfig, FaultRule, SimConfig
from standins.polygon.exceptions import SimConfigError
from standins.polygon.server import RunningSim, start_in_thread

BARS = "/v2/aggs/ticker/{}/range/1/day/2023-01-02/2023-01-31"
TICKERS = "/v3/reference/tickers"


@pytest.fixture
def faulty(sim: RunningSim) -> Iterator[RunningSim]:
    """The module's server with counters zeroed, and its faults switched off afterwards."""
    sim.reset()
    yield sim
    sim.set_faults(FaultConfig())


def statuses(client: httpx.Client, count: int) -> list[int]:
    return [client.get(TICKERS, params={"limit": 1}).status_code for _ in range(count)]


def test_5xx_rate_is_near_the_configured_one_and_repeats_with_the_seed(
    faulty: RunningSim, client: httpx.Client
) -> None:
    faulty.set_faults(FaultConfig(error_rate=0.3, seed=42))
    first = statuses(client, 300)
    failed = [status for status in first if status != 200]
    assert 0.2 <= len(failed) / 300 <= 0.4
    assert set(failed) == {500, 502, 503}
    assert faulty.stats()["faults"] == {"error": len(failed)}
    faulty.reset()
    assert statuses(client, 300) == first


def test_a_5xx_answer_has_polygons_error_envelope(faulty: RunningSim, client: httpx.Client) -> None:
    faulty.set_faults(FaultConfig(error_rate=1.0, error_statuses=(502,)))
    response = client.get(BARS.format("AAPL"))
    assert response.status_code == 502
    assert response.json()["status"] == "ERROR"
    assert "502" in response.json()["error"]


def test_slow_answers_add_the_configured_latency(faulty: RunningSim, client: httpx.Client) -> None:
    started = time.perf_counter()
    client.get(BARS.format("AAPL"))
    fast = time.perf_counter() - started
    faulty.set_faults(FaultConfig(latency_ms=(300.0, 300.0)))
    started = time.perf_counter()
    response = client.get(BARS.format("AAPL"))
    slow = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["resultsCount"] == 22
    assert slow >= 0.3 > fast
    faulty.set_faults(FaultConfig(latency_ms=(100.0, 200.0), seed=1))
    started = time.perf_counter()
    client.get(BARS.format("AAPL"))
    assert 0.1 <= time.perf_counter() - started < 2.0
    assert faulty.stats()["faults"] == {"slow": 2}


def test_slow_rate_delays_only_a_share(faulty: RunningSim, client: httpx.Client) -> None:
    faulty.set_faults(FaultConfig(latency_ms=(1.0, 1.0), slow_rate=0.5, seed=3))
    statuses(client, 100)
    assert 30 <= faulty.stats()["faults"]["slow"] <= 70


def test_a_malformed_body_is_not_json(faulty: RunningSim, client: httpx.Client) -> None:
    faulty.set_faults(FaultConfig(malformed_rate=1.0))
    response = client.get(BARS.format("AAPL"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith('{"ticker":"AAPL","queryCount":22')
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert faulty.stats()["faults"] == {"malformed": 1}


def test_a_reset_is_a_transport_error_and_the_server_lives_on(
    faulty: RunningSim, client: httpx.Client
) -> None:
    faulty.set_faults(FaultConfig(reset_rate=1.0))
    with pytest.raises(httpx.TransportError) as caught:
        client.get(BARS.format("AAPL"))
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    faulty.set_faults(FaultConfig())
    assert client.get(BARS.format("AAPL")).status_code == 200
    assert faulty.stats()["faults"] == {"reset": 1}


def test_rules_fail_the_first_requests_of_a_ticker_exactly(
    faulty: RunningSim, client: httpx.Client
) -> None:
    rules = (
        FaultRule(kind="error", count=2, ticker="AAPL", status=503),
        FaultRule(kind="malformed", count=1, ticker="MSFT"),
        FaultRule(kind="reset", count=1, endpoint="tickers"),
    )
    faulty.set_faults(FaultConfig(rules=rules))
    assert [client.get(BARS.format("AAPL")).status_code for _ in range(3)] == [503, 503, 200]
    assert client.get(BARS.format("NVDA")).status_code == 200
    with pytest.raises(json.JSONDecodeError):
        client.get(BARS.format("MSFT")).json()
    assert client.get(BARS.format("MSFT")).json()["resultsCount"] == 22
    with pytest.raises(httpx.TransportError):
        client.get(TICKERS)
    assert client.get(TICKERS).status_code == 200
    stats = faulty.stats()
    assert stats["faults"] == {"error": 2, "malformed": 1, "reset": 1}
    assert stats["tickers"] == {"AAPL": 3, "MSFT": 2, "NVDA": 1}
    # Resetting restarts the schedule.
    faulty.reset()
    assert client.get(BARS.format("AAPL")).status_code == 503


def test_a_slow_rule_delays_its_requests(faulty: RunningSim, client: httpx.Client) -> None:
    faulty.set_faults(FaultConfig(rules=(FaultRule(kind="slow", count=1, delay_ms=250),)))
    started = time.perf_counter()
    client.get(BARS.format("AAPL"))
    assert time.perf_counter() - started >= 0.25
    started = time.perf_counter()
    client.get(BARS.format("AAPL"))
    assert time.perf_counter() - started < 0.25


def test_stats_count_statuses_bars_and_endpoints(faulty: RunningSim, client: httpx.Client) -> None:
    for ticker in ("AAPL", "AAPL", "MSFT"):
        client.get(BARS.format(ticker))
    httpx.get(faulty.base_url + TICKERS)
    assert faulty.stats() == {
        "requests": 4,
        "bars": 66,
        "statuses": {"200": 3, "401": 1},
        "faults": {},
        "endpoints": {"aggs": 3, "tickers": 1},
        "tickers": {"AAPL": 2, "MSFT": 1},
    }


def test_control_rejects_an_invalid_fault_config(faulty: RunningSim) -> None:
    url = faulty.base_url + "/_control/faults"
    response = httpx.post(url, json={"error_rate": 2})
    assert response.status_code == 400
    assert "faults.error_rate: 2.0 is not a probability" in response.json()["error"]
    assert httpx.post(url, content=b"{").status_code == 400
    assert FaultConfig.from_mapping(httpx.get(url).json()) == FaultConfig()


def test_control_endpoints_are_off_unless_configured() -> None:
    with start_in_thread(SimConfig(port=0, log_level="warning")) as sim:
        assert httpx.get(sim.base_url + "/_control/stats").status_code == 404
        assert httpx.post(sim.base_url + "/_control/faults", json={}).status_code == 404


def test_without_a_socket_to_reset_the_response_is_cut_short() -> None:
    # Under a plain ASGI server (no tracked transports), a reset degrades to a truncated answer.
    config = SimConfig(port=0, faults=FaultConfig(reset_rate=1.0), log_level="critical")
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="critical", lifespan="off", ws="none")
    )
    sock = serving.bind()
    stop = serving.start(server, sock, "plain uvicorn")
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{serving.url(sock)}{TICKERS}", params={"apiKey": config.keys[0]})
    finally:
        stop()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"error_rate": -0.1}, "faults.error_rate: -0.1 is not a probability in [0, 1]"),
        ({"reset_rate": 0.6, "error_rate": 0.6}, "must not exceed 1"),
        ({"error_statuses": [404]}, "faults.error_statuses: 404 is not a 5xx status"),
        ({"error_statuses": []}, "needs at least one status"),
        ({"latency_ms": "500-100"}, "the range 500.0-100.0 is reversed"),
        ({"latency_ms": "soon"}, "is not milliseconds"),
        ({"colour": 1}, "unknown keys ['colour']"),
        ({"rules": [{"kind": "explode", "count": 1}]}, "'explode' is not one of"),
        ({"rules": [{"kind": "error", "count": -1}]}, "faults.rules.count: must be 0 or more"),
        ({"rules": [{"kind": "error", "count": 1, "endpoint": "x"}]}, "'x' is not one of"),
        ({"rules": [{"kind": "error"}]}, "count"),
        ({"rules": [{"kind": "error", "count": 1, "when": 2}]}, "unknown keys ['when']"),
    ],
)
def test_fault_config_errors(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(SimConfigError) as caught:
        FaultConfig.from_mapping(mapping)
    assert message in str(caught.value)


def test_fault_config_round_trips() -> None:
    config = FaultConfig(
        error_rate=0.1,
        error_statuses=(503,),
        latency_ms=(5.0, 10.0),
        seed=9,
        rules=(FaultRule(kind="reset", count=3, ticker="AAPL", endpoint="aggs"),),
    )
    assert FaultConfig.from_mapping(json.loads(json.dumps(config.to_mapping()))) == config
