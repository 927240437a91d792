"""The platform side of `make bench-runs`: a real API and worker, driven over GraphQL.

The tests' helpers (tests/api, tests/runner/ingest, tests/runner/control) are on the path: the
Makefile's target puts them there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from api_client import Api, post_graphql
from control_setup import TRIGGER_RUN, create_provider

FEED = "subscription($p: [ID!]) { runsFeed(filter: {providerIds: $p}) { status run { id } } }"
COUNT_DONE = """query($p: ID!) {
  runs(filter: {providerIds: [$p], statuses: [SUCCEEDED, FAILED, CANCELED]}) { totalCount } }"""
FAILED = (
    """query($p: ID!) { runs(filter: {providerIds: [$p], statuses: [FAILED]}) { totalCount } }"""
)


@dataclass
class Feed:
    """Status changes of a provider's runs as they arrive: run id → status → arrival time."""

    seen: dict[str, dict[str, float]]

    async def until(self, run_id: str, status: str, timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        while status not in self.seen.get(run_id, {}):
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} did not reach {status} in {timeout} s")
            await asyncio.sleep(0.001)
        return self.seen[run_id][status]


@asynccontextmanager
async def feed(api: Api, key: str, provider: str) -> AsyncIterator[Feed]:
    """A runsFeed subscription of one provider, read in the background."""
    found = Feed({})
    async with api.websocket(key) as socket:
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.subscribe("feed", FEED, {"p": [provider]})

        async def read() -> None:
            while True:
                message = await socket.receive()
                if message.get("type") != "next":
                    continue
                item = message["payload"]["data"]["runsFeed"]
                found.seen.setdefault(item["run"]["id"], {})[item["status"]] = time.monotonic()

        reader = asyncio.create_task(read())
        try:
            yield found
        finally:
            reader.cancel()


async def trigger_at(http: httpx.AsyncClient, key: str, provider: str) -> tuple[str, float]:
    """(run id, the moment the triggerRun call was sent)."""
    sent = time.monotonic()
    answer = (await post_graphql(http, TRIGGER_RUN, {"id": provider}, key)).json()
    result = answer["data"]["triggerRun"]
    if result["__typename"] != "RunQueued":
        raise RuntimeError(f"triggerRun failed: {json.dumps(result)}")
    return str(result["run"]["id"]), sent


async def trigger_to_running(api: Api, key: str, provider: str, runs: int) -> list[float]:
    """Seconds from each triggerRun call to its RUNNING arriving on the feed, one run at a time."""
    samples = []
    async with (
        feed(api, key, provider) as live,
        httpx.AsyncClient(base_url=api.base_url, timeout=60) as http,
    ):
        for _ in range(runs):
            run_id, sent = await trigger_at(http, key, provider)
            samples.append(await live.until(run_id, "RUNNING") - sent)
            await live.until(run_id, "SUCCEEDED")
    return samples


async def many_runs(api: Api, key: str, provider: str, runs: int) -> float:
    """Seconds from triggering ``runs`` runs at once to the end of the last one."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:
        await asyncio.gather(*(trigger_at(http, key, provider) for _ in range(runs)))
    done_query = {"p": provider}
    while int((await api.data(COUNT_DONE, done_query, key))["runs"]["totalCount"]) < runs:
        await asyncio.sleep(0.05)
    seconds = time.monotonic() - started
    failed = int((await api.data(FAILED, done_query, key))["runs"]["totalCount"])
    if failed:
        raise RuntimeError(f"{failed} of the {runs} runs failed")
    return seconds


async def provider_of(api: Api, key: str, spec: str) -> str:
    return await create_provider(api, key, spec)


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "median": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)],
    }
