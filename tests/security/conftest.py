"""The attack suite's fixtures: the ingest tests' stack, warm Spark session and paged API (as
`source`, beside the API server's `api`), and a second server playing the attacker's host."""

from collections.abc import Iterator

import pytest
from ingest_fixtures import paged, settings, spark
from paged_api import PagedApi, RunningApi, item, serve_in_thread

__all__ = ["attacker", "paged", "settings", "source", "spark"]


@pytest.fixture
def source(paged: RunningApi) -> RunningApi:
    """The spec's own source, with no request seen and records 0..4."""
    paged.api.reset()
    paged.api.records = [item(i) for i in range(5)]
    return paged


@pytest.fixture(scope="module")
def attacker() -> Iterator[RunningApi]:
    """A host no spec names: whatever reaches it was sent where it must not go."""
    with serve_in_thread(PagedApi()) as server:
        server.api.reset()
        yield server
