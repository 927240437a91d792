"""Helpers of the control plane's tests: worker processes, specs of both sources, GraphQL calls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trino
from api_client import ROOT, Api, free_port, spec_for
from ingest_setup import COLUMNS

from standins.polygon.config import FaultConfig

LEDGER = (ROOT / "uis_compiler" / "examples" / "ledger_transactions.yaml").read_text()
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
#: Run retries a second apart (the example waits a minute).
QUICK_RETRIES = {
    "backoff_seconds: 60": "backoff_seconds: 1",
    "max_backoff_seconds: 900": "max_backoff_seconds: 2",
}
SLOW = FaultConfig(latency_ms=(3000.0, 3000.0), slow_rate=1.0)

CREATE_PROVIDER = """
mutation($spec: String!) {
  createProvider(spec: $spec) {
    __typename
    ... on ProviderSaved { provider { id } }
    ... on SpecInvalid { issues { code message line } }
    ... on Problem { message }
  }
}
"""
TRIGGER_RUN = """
mutation($id: ID!, $parameters: JSON) {
  triggerRun(providerId: $id, parameters: $parameters) {
    __typename ... on RunQueued { run { id } } ... on Problem { message }
  }
}
"""
CANCEL_RUN = """
mutation($id: ID!) {
  cancelRun(runId: $id) {
    __typename ... on RunCanceled { run { status } } ... on Problem { message }
  }
}
"""
RUN = """
query($id: ID!) {
  run(id: $id) {
    id status attempt errorClass errorMessage snapshotId startedAt finishedAt
    metrics { rowsRead rowsWritten pages requests retries bytes }
    qualityResults { name passed }
    parent { id }
  }
}
"""
RUNS = """
query($first: Int, $after: String, $filter: RunFilterInput) {
  runs(first: $first, after: $after, filter: $filter) {
    edges { node { id status attempt trigger windowStart windowEnd logicalDate parent { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EVENTS = """
query($id: ID!, $after: Long!) {
  run(id: $id) { events(after: $after, first: 200) { events { seq kind level message payload }
                                                     lastSeq hasMore } }
}
"""


def unique_namespace() -> str:
    return f"control_{uuid.uuid4().hex[:10]}"


def polygon_spec(base_url: str, namespace: str, name: str = "polygon", **replace: str) -> str:
    """The Polygon example pointed at the local server, writing into ``namespace``."""
    return spec_for(
        name=name,
        **{
            "https://api.polygon.io": base_url,
            "market_data.stock_daily_bars": f"{namespace}.stock_daily_bars",
            **replace,
        },
    )


def ledger_spec(base_url: str, namespace: str, name: str = "ledger", **replace: str) -> str:
    """The ledger example pointed at ``base_url``, writing into ``namespace``."""
    text = (
        LEDGER.replace("https://ledger.example.com", base_url)
        .replace("finance.transactions", f"{namespace}.transactions")
        .replace("  name: ledger\n", f"  name: {name}\n")
    )
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@dataclass
class WorkerProcess:
    """A `headwater worker` process of the tests (its own process group: JVM included)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str

    def metrics(self) -> str:
        return httpx.get(self.metrics_url, timeout=5).text

    def metric(self, name: str, labels: str = "") -> float:
        """A sample's value (0 when absent): ``name{labels}``."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.metrics().splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM, and the exit status once it has shut down."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the worker did not stop in {timeout} s; see {self.log_path}"
            ) from None

    def kill(self) -> None:
        """SIGKILL to the worker and everything it started (its Spark JVM)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


def start_worker(database_url: str, log_name: str, **env: str) -> WorkerProcess:
    """`headwater worker` on ``database_url``, back once it serves metrics (its session is warm)."""
    port = free_port()
    (ROOT / "var").mkdir(exist_ok=True)
    log_path = ROOT / "var" / f"{log_name}-{port}.log"
    environment = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_WORKER_METRICS_PORT": str(port),
        "HEADWATER_WORKER_SCHEDULER": "false",
        "HEADWATER_LOG_LEVEL": "INFO",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "worker"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, log_path, f"http://127.0.0.1:{port}/metrics")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}:\n{worker.log()}")
        try:
            worker.metrics()
            return worker
        except httpx.HTTPError:
            time.sleep(0.2)
    worker.kill()
    raise AssertionError(f"the worker did not start in 120 s:\n{worker.log()[-3000:]}")


async def create_provider(api: Api, key: str, spec: str) -> str:
    result = (await api.data(CREATE_PROVIDER, {"spec": spec}, key))["createProvider"]
    assert result["__typename"] == "ProviderSaved", result
    return str(result["provider"]["id"])


async def trigger(
    api: Api, key: str, provider: str, parameters: dict[str, str] | None = None
) -> str:
    variables: dict[str, Any] = {"id": provider, "parameters": parameters}
    result = (await api.data(TRIGGER_RUN, variables, key))["triggerRun"]
    assert result["__typename"] == "RunQueued", result
    return str(result["run"]["id"])


async def run_of(api: Api, key: str, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(RUN, {"id": run_id}, key))["run"]
    return found


async def wait_for(
    api: Api, key: str, run_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 180.0
) -> dict[str, Any]:
    """The run once its status is one of ``statuses`` (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        run = await run_of(api, key, run_id)
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is still {run['status']} after {timeout} s")
        await asyncio.sleep(0.2)


async def events_of(api: Api, key: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of the run, in order."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await api.data(EVENTS, {"id": run_id, "after": after}, key))["run"]["events"]
        found += page["events"]
        after = int(page["lastSeq"])
        if not page["hasMore"]:
            return found


async def attempts_of(api: Api, key: str, first: str) -> list[dict[str, Any]]:
    """The run and every retry chained to it, oldest first."""
    nodes = []
    after = None
    while True:
        page = (await api.data(RUNS, {"first": 200, "after": after}, key))["runs"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    chain = [first]
    children = {n["parent"]["id"]: n["id"] for n in nodes if n["parent"]}
    while chain[-1] in children:
        chain.append(children[chain[-1]])
    by_id = {n["id"]: n for n in nodes}
    return [by_id[ident] for ident in chain]


def trino_rows(cursor: Any, sql: str) -> list[Any]:
    """A Trino statement's rows, tried twice: after a database restart, Trino's catalog pool
    fails one query on a dead connection ("Cannot check and eventually update SQL schema")."""
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    except trino.exceptions.TrinoQueryError:
        cursor.execute(sql)
        return list(cursor.fetchall())


def table_rows(trino_cursor: Any, namespace: str) -> list[tuple[Any, ...]]:
    sql = f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY ticker, bar_date"
    return [tuple(row) for row in trino_rows(trino_cursor, sql)]


def snapshots(trino_cursor: Any, namespace: str) -> list[int]:
    trino_cursor.execute(
        f'SELECT snapshot_id FROM iceberg.{namespace}."stock_daily_bars$snapshots" '
        "ORDER BY committed_at"
    )
    return [int(row[0]) for row in trino_cursor.fetchall()]


def window() -> tuple[Any, Any]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=5), today


async def running(api: Api, key: str, run_id: str) -> None:
    """Back once the run fetches (RUNNING, past its first stage)."""
    await wait_for(api, key, run_id, ("RUNNING",), timeout=120)
    await asyncio.sleep(1.0)


async def slow_run(api: Api, keys: Any, sim: Any, namespace: str) -> str:
    """A Polygon run whose source answers slowly, once it is RUNNING and fetching.

    ``sim`` should be the `faults` fixture, which switches the slowness off after the test.
    """
    provider = await create_provider(api, keys.admin, polygon_spec(sim.base_url, namespace))
    sim.set_faults(SLOW)
    run_id = await trigger(api, keys.run, provider)
    await running(api, keys.read, run_id)
    return run_id


async def all_succeed(api: Api, key: str, runs: list[str]) -> None:
    """Wait for every one of ``runs``; each must have SUCCEEDED."""
    for run in runs:
        done = await wait_for(api, key, run)
        assert done["status"] == "SUCCEEDED", done
