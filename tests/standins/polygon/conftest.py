"""Fixtures of the local Polygon server's tests: a real server on loopback and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from polygon_sim_setup import shared_config

from standins.polygon.server import RunningSim, start_in_thread


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    """A server per test module (see polygon_sim_setup.shared_config)."""
    with start_in_thread(shared_config()) as running:
        yield running


@pytest.fixture
def client(sim: RunningSim) -> Iterator[httpx.Client]:
    """A client that sends the key as a bearer token on every request."""
    headers = {"Authorization": f"Bearer {sim.key}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=30) as http:
        yield http
