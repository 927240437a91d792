"""`headwater polygon-sim`, its settings, and the subprocess launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from headwater.cli import build_parser, main
from headwater.polygon_commands import sim_config
from headwater.settings import Settings
from standins.polygon.config import (
    FaultConfig,
    FaultRule,
    RateLimit,
    SimConfig,
    parse_latency,
    parse_rate_limit,
)
from standins.polygon.exceptions import SimConfigError
from standins.polygon.server import start_process

ROOT = Path(__file__).resolve().parents[3]
BARS = "/v2/aggs/ticker/AAPL/range/1/day/2023-01-02/2023-01-06"


def config_of(argv: list[str]) -> SimConfig:
    return sim_config(build_parser().parse_args(["polygon-sim", *argv]), Settings())


def test_defaults() -> None:
    config = config_of([])
    assert config == SimConfig(log_level=config.log_level)
    assert config.keys == ("headwater-dev-key",)
    assert config.rate_limit is None and not config.faults.active and not config.control


def test_options_override_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_PORT", "9001")
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_KEYS", '["env-key"]')
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_RATE_LIMIT", "5/min")
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_FAULT_5XX", "0.2")
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_LATENCY_MS", "10-20")
    monkeypatch.setenv("HEADWATER_POLYGON_SIM_FRACTIONAL_VOLUME", '["FRAC"]')
    from_env = config_of([])
    assert from_env.port == 9001 and from_env.keys == ("env-key",)
    assert from_env.rate_limit == RateLimit(5, 60.0)
    assert from_env.faults.error_rate == 0.2 and from_env.faults.latency_ms == (10.0, 20.0)
    assert from_env.fractional_volume == frozenset({"FRAC"})
    given = config_of(
        [
            "--port=0",
            "--keys=k1, k2",
            "--rate-limit=off",
            "--fault-5xx=0.1",
            "--fault-statuses=503",
            "--fault-malformed=0.05",
            "--fault-reset=0.01",
            "--latency-ms=200",
            "--slow-rate=0.5",
            "--seed=7",
            "--tickers=100",
            "--forbidden=SECRET",
            "--control",
        ]
    )
    assert given.port == 0 and given.keys == ("k1", "k2") and given.rate_limit is None
    assert given.faults == FaultConfig(
        error_rate=0.1,
        error_statuses=(503,),
        malformed_rate=0.05,
        reset_rate=0.01,
        slow_rate=0.5,
        latency_ms=(200.0, 200.0),
        seed=7,
    )
    assert given.universe_size == 100 and given.forbidden == frozenset({"SECRET"})
    assert given.control and given.fractional_volume == frozenset({"FRAC"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate-limit=5/fortnight"], "is not N/UNIT"),
        (["--fault-5xx=1.5"], "faults.error_rate: 1.5 is not a probability"),
        (["--fault-statuses=404"], "404 is not a 5xx status"),
        (["--fault-statuses=oops"], "--fault-statuses"),
        (["--keys=,"], "needs at least one non-empty API key"),
        (["--port=70000"], "70000 is not a TCP port"),
        (["--tickers=0"], "universe_size: must be between 1 and 400000"),
        (["--latency-ms=fast"], "is not milliseconds"),
    ],
)
def test_bad_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["polygon-sim", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5/min", RateLimit(5, 60.0)),
        ("5/minute", RateLimit(5, 60.0)),
        ("100/s", RateLimit(100, 1.0)),
        ("100 / sec", RateLimit(100, 1.0)),
        ("1000/hours", RateLimit(1000, 3600.0)),
        ("20", RateLimit(20, 1.0)),
        ("", None),
        ("off", None),
    ],
)
def test_parse_rate_limit(text: str, expected: RateLimit | None) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (200, (200.0, 200.0)),
        ("200", (200.0, 200.0)),
        ("100-500", (100.0, 500.0)),
        ([1, 2], (1.0, 2.0)),
    ],
)
def test_parse_latency(value: object, expected: tuple[float, float]) -> None:
    assert parse_latency(value) == expected


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"keys": []}, "polygon-sim keys: needs at least one non-empty API key"),
        ({"rate_limit": {"requests": 0, "per_seconds": 1}}, "rate_limit: needs at least 1"),
        ({"log_level": "loud"}, "log_level: 'loud' is not one of"),
        ({"host": "h", "size": 3}, "config: unknown keys ['size']"),
        ({"faults": []}, "faults: expected an object, got list"),
    ],
)
def test_sim_config_errors(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(SimConfigError) as caught:
        SimConfig.from_mapping(mapping)
    assert message in str(caught.value)


def test_sim_config_round_trips() -> None:
    config = SimConfig(
        port=0,
        keys=("a", "b"),
        rate_limit=RateLimit(5, 60.0),
        fractional_volume=frozenset({"X", "Y"}),
        faults=FaultConfig(error_rate=0.5, rules=(FaultRule(kind="slow", count=1),)),
        control=True,
    )
    assert SimConfig.from_mapping(config.to_mapping()) == config


def test_the_command_serves_and_prints_its_url_first() -> None:
    command = [sys.executable, "-m", "headwater.cli", "polygon-sim", "--port=0", "--keys=k1,k2"]
    env = {**os.environ, "HEADWATER_POLYGON_SIM_CONTROL": "true", "HEADWATER_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith("polygon-sim listening on http://127.0.0.1:")
        url = line.split()[-1]
        response = httpx.get(url + BARS, headers={"Authorization": "Bearer k2"})
        assert response.status_code == 200 and response.json()["resultsCount"] == 5
        assert httpx.get(url + BARS, params={"apiKey": "headwater-dev-key"}).status_code == 401
        assert httpx.get(url + "/_control/stats").json()["statuses"] == {"200": 1, "401": 1}
    finally:
        process.terminate()
        status = process.wait(timeout=10)
        process.stdout.close()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the parent sees why it ended.
    assert status == -signal.SIGTERM


def test_start_process_runs_the_server_in_a_child() -> None:
    config = SimConfig(port=0, keys=("child",), control=True, log_level="warning")
    with start_process(config) as sim:
        response = httpx.get(sim.base_url + BARS, params={"apiKey": "child"})
        assert response.json()["resultsCount"] == 5
        sim.set_faults(FaultConfig(error_rate=1.0, error_statuses=(500,)))
        assert httpx.get(sim.base_url + BARS, params={"apiKey": "child"}).status_code == 500
        assert sim.stats()["faults"] == {"error": 1}
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.base_url + BARS)
