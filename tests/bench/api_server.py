"""A real `headwater api` process for the benchmark, and concurrent HTTP clients to load it."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
# The API tests' server launcher serves the benchmark too (tests/ is not a package).
sys.path.insert(0, str(ROOT / "tests" / "api"))

from api_client import Server, start_server  # noqa: E402


def start(database_url: str) -> Server:
    """`headwater api` on ``database_url`` (warnings-only logs, as in production)."""
    # Per-request logging would be measured too; production logs warnings and up.
    return start_server(database_url, log_name="bench-api", HEADWATER_LOG_LEVEL="WARNING")


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
        base_url=server.api.base_url, headers=headers, limits=limits, timeout=30
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
