"""A real `headwater api` process for the benchmark, and concurrent HTTP clients to load it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """One `headwater api` process on a loopback port."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: IO[bytes]

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/graphql"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(database_url: str) -> Server:
    """`headwater api` on ``database_url``, returned once it answers ready."""
    port = _free_port()
    environment = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        # Per-request logging would be measured too; production logs warnings and up.
        "HEADWATER_LOG_LEVEL": "WARNING",
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / f"bench-api-{port}.log", "wb")  # noqa: SIM115 - Server.stop closes it
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "api", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(f"the API exited with {process.returncode}; see {log.name}")
        try:
            health = httpx.get(f"{server.base_url}/healthz", timeout=1).json()
            ready = httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200
            # Another process may hold the port we were given: the pid says who answered.
            if ready and health.get("pid", process.pid) == process.pid:
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the API did not become ready in 30 s; see {log.name}")


@dataclass
class Load:
    """Latencies (seconds) of the requests of one load run, and its length."""

    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: Load) -> None:
        self.samples.extend(other.samples)
        self.seconds += other.seconds

    @property
    def rps(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


async def drive(
    server: Server, token: str, body: dict[str, Any], seconds: float, concurrency: int
) -> Load:
    """``concurrency`` clients posting ``body`` back to back for ``seconds``."""
    load = Load()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, limits=limits, timeout=30
    ) as client:
        started = time.perf_counter()
        end = started + seconds

        async def worker() -> None:
            while time.perf_counter() < end:
                sent = time.perf_counter()
                response = await client.post("/graphql", json=body)
                took = time.perf_counter() - sent
                answer = response.json()
                if response.status_code != 200 or "errors" in answer:
                    raise RuntimeError(f"the benchmark query failed: {response.text[:500]}")
                load.samples.append(took)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        load.seconds = time.perf_counter() - started
    return load
