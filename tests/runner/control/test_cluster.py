"""The worker's spark-submit mode on a real Spark standalone cluster (a master, two workers).

The same GraphQL flow as in process: the run's driver is a child of the worker (client deploy
mode), its executors run on the cluster's workers with the Iceberg jars shipped to them. A
cancel stops the driver; a Spark worker killed mid-run loses its executor, and the run still
ends with exactly the window's rows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from api_client import Api, Keys
from control_setup import (
    CANCEL_RUN,
    WorkerProcess,
    attempts_of,
    create_provider,
    events_of,
    polygon_spec,
    slow_run,
    start_worker,
    table_rows,
    trigger,
    wait_for,
    window,
)
from ingest_setup import ROOT, expected_rows, run_script

from headwater.settings import Settings
from standins.polygon.config import FaultConfig
from standins.polygon.server import RunningSim

SCRIPT = ROOT / "deploy" / "local" / "spark-cluster.sh"


@pytest.fixture(scope="module")
def cluster(settings: Settings) -> Iterator[str]:
    """The standalone cluster's master URL (spark://127.0.0.1:…)."""
    run_script("spark-cluster.sh", "start")
    url = subprocess.run(
        ["bash", str(SCRIPT), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    yield url
    run_script("spark-cluster.sh", "stop")


@pytest.fixture(scope="module")
def submitting(database_url: str, sim: RunningSim, cluster: str) -> Iterator[WorkerProcess]:
    """A worker that runs every run through spark-submit on the cluster."""
    process = start_worker(
        database_url,
        "test-worker-cluster",
        POLYGON_API_KEY=sim.key,
        HEADWATER_SPARK_MASTER=cluster,
        # Each run's driver asks for both workers' cores; one run at a time.
        HEADWATER_WORKER_SLOTS="1",
    )
    yield process
    process.stop()


async def test_a_run_through_spark_submit_on_the_cluster(
    api: Api,
    keys: Keys,
    submitting: WorkerProcess,
    sim: RunningSim,
    namespace: str,
    trino_cursor: Any,
) -> None:
    provider = await create_provider(api, keys.admin, polygon_spec(sim.base_url, namespace))
    run_id = await trigger(api, keys.run, provider)
    run = await wait_for(api, keys.read, run_id, timeout=300)
    assert run["status"] == "SUCCEEDED", run
    start, end = window()
    assert table_rows(trino_cursor, namespace) == expected_rows(start, end, run_id)
    events = await events_of(api, keys.read, run_id)
    messages = [e["message"] for e in events]
    assert any(m.startswith("Spark application app-") for m in messages), messages
    assert any("spark-submit to spark://127.0.0.1" in m for m in messages)
    stages = [e["payload"]["stage"] for e in events if (e["payload"] or {}).get("stage")]
    assert stages == ["prepare", "fetch", "transform", "check", "commit", "lineage"]
    assert run["metrics"]["rowsWritten"] == len(expected_rows(start, end, run_id))


async def test_a_cancel_on_the_cluster_stops_the_driver(
    api: Api,
    keys: Keys,
    submitting: WorkerProcess,
    faults: RunningSim,
    namespace: str,
    trino_cursor: Any,
) -> None:
    run_id = await slow_run(api, keys, faults, namespace)
    answer = (await api.data(CANCEL_RUN, {"id": run_id}, keys.run))["cancelRun"]
    assert answer["__typename"] == "RunCanceled", answer
    run = await wait_for(api, keys.read, run_id, timeout=120)
    assert run["status"] == "CANCELED", run
    trino_cursor.execute(f"SHOW SCHEMAS FROM iceberg LIKE '{namespace}'")
    assert trino_cursor.fetchall() == []
    # The driver is gone: no spark-submit of this run is left.
    left = subprocess.run(
        ["pgrep", "-f", f"runs/{run_id}/plan.json"], capture_output=True, text=True
    ).stdout
    assert left == ""


async def test_a_spark_worker_killed_mid_run_still_gives_the_exact_rows(
    api: Api,
    keys: Keys,
    submitting: WorkerProcess,
    faults: RunningSim,
    namespace: str,
    trino_cursor: Any,
) -> None:
    run_id = await slow_run(api, keys, faults, namespace)
    try:
        run_script("spark-cluster.sh", "kill-worker", "1")
        faults.set_faults(FaultConfig())
        chain = await attempts_of(api, keys.read, run_id)
        last = await wait_for(api, keys.read, chain[-1]["id"], timeout=300)
        # Spark reruns the lost executor's tasks on the other worker; were that to fail, the
        # run would fail as transient and its retry run.
        while last["status"] == "FAILED":
            chain = await attempts_of(api, keys.read, run_id)
            assert len(chain) > 1, last
            last = await wait_for(api, keys.read, chain[-1]["id"], timeout=300)
    finally:
        run_script("spark-cluster.sh", "start-worker", "1")
    assert last["status"] == "SUCCEEDED", last
    start, end = window()
    assert table_rows(trino_cursor, namespace) == expected_rows(start, end, last["id"])
