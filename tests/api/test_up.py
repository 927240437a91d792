"""`headwater up` starts the platform in the background and exits, `headwater down` stops it;
`headwater apikey create`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from api_client import ROOT, Api, free_port
from ingest_setup import STACK, run_script

from headwater.settings import Settings

SERVICES = {"api", "worker", "polygon-sim"}
PROVIDERS = "{ providers { edges { node { name } } } }"
RUNS = """
{ runs(first: 20) { edges { node { id status trigger errorMessage metrics { rowsWritten }
                                   provider { name } } } } }
"""
RUN_SECONDS = 150


@pytest.fixture(scope="module")
def stack() -> None:
    """PostgreSQL, the S3 server, Trino and the Spark jars: what a worker's runs need."""
    for script, *args in STACK:
        run_script(script, *args)


def _environment(database_url: str, var_dir: Path) -> dict[str, str]:
    # Without POLYGON_API_KEY, `up` starts the local Polygon server and points the example at it.
    env = {name: value for name, value in os.environ.items() if name != "POLYGON_API_KEY"}
    return {
        **env,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_VAR_DIR": str(var_dir),
        # The catalog is shared with every other run on this machine: a table it creates must
        # not live under the temporary directory, which is deleted after the tests.
        "HEADWATER_WAREHOUSE": Settings().warehouse_location,
        "HEADWATER_API_PORT": str(free_port()),
        "HEADWATER_POLYGON_SIM_PORT": str(free_port()),
        "HEADWATER_WORKER_METRICS_PORT": str(free_port()),
    }


def _headwater(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    # Captured output: `up` returns only if the processes it leaves behind do not hold the pipes.
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", command],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _pids(var_dir: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text()) for path in (var_dir / "run").glob("*.pid")}


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (its new parent may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _keys(output: str) -> list[str]:
    return [word for word in output.split() if word.startswith("hw_")]


async def _runs(api: Api, key: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await api.data(RUNS, key=key))["runs"]["edges"]]


async def _finished_run(api: Api, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_SECONDS
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = await _runs(api, key)
        if runs and runs[0]["status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"no run finished in {RUN_SECONDS} s: {runs}")


async def test_up_starts_the_platform_in_the_background_and_down_stops_it(
    clean: str, stack: None, tmp_path: Path
) -> None:
    env = _environment(clean, tmp_path)
    api = Api(f"http://127.0.0.1:{env['HEADWATER_API_PORT']}")
    pids: dict[str, int] = {}
    try:
        first = _headwater(env, "up")
        pids = _pids(tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        keys = _keys(first.stdout)
        assert len(keys) == 1, first.stdout
        assert set(pids) == SERVICES
        assert all(_alive(pid) for pid in pids.values()), pids
        assert all((tmp_path / "log" / f"{name}.log").exists() for name in SERVICES)
        providers = (await api.data(PROVIDERS, key=keys[0]))["providers"]["edges"]
        assert [edge["node"]["name"] for edge in providers] == ["polygon"]
        run = await _finished_run(api, keys[0])
        assert (run["status"], run["provider"]["name"]) == ("SUCCEEDED", "polygon"), run
        assert run["metrics"]["rowsWritten"] > 0, run

        second = _headwater(env, "up")
        assert second.returncode == 0, second.stdout + second.stderr
        assert _keys(second.stdout) == [], second.stdout
        assert second.stdout.count("already running") == len(SERVICES), second.stdout
        assert _pids(tmp_path) == pids
        providers = (await api.data(PROVIDERS, key=keys[0]))["providers"]["edges"]
        assert len(providers) == 1
        manual = [item for item in await _runs(api, keys[0]) if item["trigger"] == "MANUAL"]
        assert [item["id"] for item in manual] == [run["id"]]
    finally:
        down = _headwater(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids.values() if _alive(pid)], down.stdout
    assert not list((tmp_path / "run").glob("*.pid"))
    again = _headwater(env, "down")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("not running") == len(SERVICES), again.stdout


def test_apikey_create_prints_a_working_key(database_url: str) -> None:
    env = {**os.environ, "HEADWATER_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "apikey", "create", "--scope", "read", "--name", "nb"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = done.stdout.strip()
    assert token.startswith("hw_") and len(token.split("_", 2)[2]) >= 30
