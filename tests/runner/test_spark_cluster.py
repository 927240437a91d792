"""The local Spark standalone cluster (deploy/local/spark-cluster.sh): workers, a job, a lost worker.

The script starts a master and two workers on loopback from the Spark in pyspark's wheel; a
failure to start fails the run with the script's output, and the cluster is stopped at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local" / "spark-cluster.sh"
UI_PORT = int(os.environ.get("HEADWATER_SPARK_CLUSTER_UI_PORT", "8180"))
VAR = Path(os.environ.get("HEADWATER_VAR_DIR", os.environ.get("HEADWATER_VAR", ROOT / "var")))
WORK = VAR / "spark-cluster" / "work"

JOB = """
import json, os
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("headwater-cluster-test").getOrCreate()
sc = spark.sparkContext
rows = sc.parallelize(range(8), 4).map(lambda x: (x, os.getpid(), os.getcwd())).collect()
print("RESULT " + json.dumps({"app_id": sc.applicationId, "master": sc.master, "rows": rows}))
spark.stop()
"""


def _script(*args: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"deploy/local/spark-cluster.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return done.stdout.strip()


def _master() -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{UI_PORT}/json/", timeout=5) as answer:
        state: dict[str, Any] = json.load(answer)
    return state


def _alive(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [worker for worker in state["workers"] if worker["state"] == "ALIVE"]


def _wait_for(check: Callable[[dict[str, Any]], bool], seconds: float) -> dict[str, Any]:
    """The master's state once ``check`` holds for it, or the last one seen after ``seconds``."""
    deadline = time.monotonic() + seconds
    state = _master()
    while not check(state) and time.monotonic() < deadline:
        time.sleep(0.25)
        state = _master()
    return state


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    _script("start")
    yield _script("url")
    _script("stop")


def test_two_alive_workers_with_one_core_each(cluster: str) -> None:
    state = _master()
    assert state["status"] == "ALIVE" and state["url"] == cluster
    alive = _alive(state)
    assert len(alive) == 2, state["workers"]
    assert [worker["cores"] for worker in alive] == [1, 1]
    assert sorted(worker["webuiaddress"] for worker in alive) == [
        f"http://127.0.0.1:{UI_PORT + 1}",
        f"http://127.0.0.1:{UI_PORT + 2}",
    ]


def test_submitted_job_runs_on_both_workers_executors(cluster: str, tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(JOB)
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    confs = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.executor.memory": "512m",
        # Both executors registered before the job starts, so its first tasks go to both.
        "spark.cores.max": "2",
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
    }
    command = [str(submit), "--master", cluster, "--deploy-mode", "client"]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    done = subprocess.run(
        [*command, str(job)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["master"] == cluster
    assert sorted(row[0] for row in result["rows"]) == list(range(8))
    # An executor runs in <work dir>/<app id>/<executor id> of the worker that launched it.
    workers = {Path(row[2]).relative_to(WORK).parts[:2] for row in result["rows"]}
    assert workers == {("worker-1", result["app_id"]), ("worker-2", result["app_id"])}
    assert os.getpid() not in {row[1] for row in result["rows"]}

    state = _wait_for(lambda s: any(a["id"] == result["app_id"] for a in s["completedapps"]), 20)
    [app] = [app for app in state["completedapps"] if app["id"] == result["app_id"]]
    assert app["state"] == "FINISHED" and app["name"] == "headwater-cluster-test"
    assert not [app for app in state["activeapps"] if app["id"] == result["app_id"]]


def test_killed_worker_is_dropped_and_a_restarted_one_comes_back(cluster: str) -> None:
    assert len(_alive(_master())) == 2
    _script("kill-worker", "1")
    killed = time.monotonic()
    state = _wait_for(lambda s: len(_alive(s)) == 1, 30)
    noticed = time.monotonic() - killed
    assert [w["webuiaddress"] for w in _alive(state)] == [f"http://127.0.0.1:{UI_PORT + 2}"]
    print(f"the master dropped the killed worker after {noticed:.1f} s")

    _script("start-worker", "1")
    alive = _alive(_master())
    assert sorted(w["webuiaddress"] for w in alive) == [
        f"http://127.0.0.1:{UI_PORT + 1}",
        f"http://127.0.0.1:{UI_PORT + 2}",
    ]
    assert any(w["state"] == "DEAD" for w in _master()["workers"])
