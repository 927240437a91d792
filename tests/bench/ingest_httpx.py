"""Baseline (a): the same pages fetched by a plain asyncio + httpx loop that discards them."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx
from ingest_plan import Workload

# Counting rows from the envelope keeps the loop a pure transfer: no JSON parse of the results.
_RESULTS_COUNT = re.compile(rb'"resultsCount":(\d+)')
_NEXT_URL = re.compile(rb'"next_url":"([^"]+)"')


@dataclass(frozen=True)
class Fetched:
    """What one pass of the loop pulled, and how long it took."""

    concurrency: int
    pages: int
    rows: int
    bytes: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


async def _fetch_all(work: Workload, concurrency: int) -> Fetched:
    limit = asyncio.Semaphore(concurrency)
    totals = {"pages": 0, "rows": 0, "bytes": 0}
    headers = {"Authorization": f"Bearer {work.key}"}

    async def chain(client: httpx.AsyncClient, url: str) -> None:
        async with limit:
            following: str | None = url
            while following is not None:
                response = await client.get(following, headers=headers)
                response.raise_for_status()
                body = response.content
                count = _RESULTS_COUNT.search(body)
                totals["pages"] += 1
                totals["rows"] += int(count.group(1)) if count else 0
                totals["bytes"] += len(body)
                more = _NEXT_URL.search(body)
                following = more.group(1).decode() if more else None

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(chain(client, url) for url in work.urls()))
        seconds = time.perf_counter() - started
    return Fetched(concurrency, totals["pages"], totals["rows"], totals["bytes"], seconds)


def fetch_all(work: Workload, concurrency: int) -> Fetched:
    """Every ticker's pages at ``concurrency`` requests in flight, bodies read and dropped."""
    return asyncio.run(_fetch_all(work, concurrency))
