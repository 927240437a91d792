"""OAuth2 tokens that expire or are revoked mid-chain: fetched again before their expiry, or once
after a 401, and shared by the chains of one worker; our paged API issues and checks them."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest
from paged_api import OAUTH_CLIENT, RunningApi, compile_plan, items, spec_text

from runner.ingest.exceptions import HttpTerminalError
from runner.ingest.fetch import Fetcher, Page
from runner.ingest.inputs import RunInputs, chains
from runner.ingest.job import resolve_secrets
from runner.ingest.ratelimit import buckets
from runner.ingest.templates import Filler
from uis_compiler.plan import SparkPlan


@pytest.fixture(autouse=True)
def oauth_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials secret holds the client id and secret the token endpoint accepts."""
    client_id, client_secret = OAUTH_CLIENT
    credentials = json.dumps({"client_id": client_id, "client_secret": client_secret})
    monkeypatch.setenv("HEADWATER_SECRET_PAGED_CREDENTIALS", credentials)


def protected_plan(
    api: RunningApi, total: int, *, rate: int | None = None, shards: list[str] | None = None
) -> SparkPlan:
    """Pages of two records from /protected/TOTAL, with a token from /oauth/token."""
    endpoint: dict[str, Any] = {
        "name": "items",
        "path": f"/protected/{total}",
        "auth": "oauth2",
        "auth_config": {"token_url": f"{api.base_url}/oauth/token"},
        "pagination": "page",
        "pagination_config": {"page_size": 2, "page_size_param": "per_page"},
        "response_path": "$.data",
    }
    provider: dict[str, Any] = {"credentials_ref": "env:HEADWATER_SECRET_PAGED_CREDENTIALS"}
    if rate is not None:
        endpoint["rate_limit_per_second"] = rate
    if shards is not None:
        endpoint["query_params"] = {"shard": "{{ shard }}"}
        provider["config"] = {"fan_out": {"shard": shards}}
    return compile_plan(spec_text(api.base_url, endpoint, provider))


async def fetch_all(plan: SparkPlan) -> tuple[list[list[Page]], Fetcher]:
    """Every chain's pages, the chains at once on one event loop sharing one Fetcher (as a task)."""
    secrets, redact = resolve_secrets(plan, None)
    fetcher = Fetcher(
        plan, lambda chain: Filler(chain.variables, secrets), redact, buckets(plan.rate_limits, 1)
    )
    work = chains(plan, RunInputs.for_window(plan, "run-oauth", logical_date=date(2024, 3, 1)))

    async def pages(client: httpx.AsyncClient, index: int) -> list[Page]:
        return [page async for page in fetcher.pages(client, work[index])]

    async with httpx.AsyncClient() as client:
        found = await asyncio.gather(*(pages(client, index) for index in range(len(work))))
    return list(found), fetcher


def records(pages: list[Page]) -> list[Any]:
    return [record for page in pages for record in page.records]


async def test_a_token_is_fetched_again_before_it_expires(api: RunningApi) -> None:
    # Tokens live 1.5 s (expires_in); requests go 1 s apart. A token is used while it has more
    # than a tenth of its life left: requests 0, 2 and 4 each need a new one.
    api.api.token_lifetime = 1.5
    (pages,), fetcher = await fetch_all(protected_plan(api, 11, rate=1))
    assert records(pages) == items(0, 11, 11)
    data = api.api.requests_to("/protected/")
    assert len(data) == 6
    assert len(api.api.requests_to("/oauth/token")) == len(api.api.tokens) == 3
    # Each token went to the two requests of its life, and none was refused: no 401 and retry.
    sent = [seen.headers["authorization"].removeprefix("Bearer ") for seen in data]
    assert sent == [token for token in api.api.tokens for _ in range(2)]
    assert fetcher.stats.requests == 6


async def test_a_401_fetches_one_new_token_and_sends_the_request_again(api: RunningApi) -> None:
    # The source revokes each token after two requests and says nothing of it (no expires_in).
    api.api.token_lifetime = None
    api.api.token_uses = 2
    (pages,), fetcher = await fetch_all(protected_plan(api, 11))
    assert records(pages) == items(0, 11, 11)
    assert len(api.api.requests_to("/oauth/token")) == 3
    # Six pages; pages 3 and 5 were refused once each and sent again with the next token.
    data = api.api.requests_to("/protected/")
    assert [seen.query["page"] for seen in data] == ["1", "2", "3", "3", "4", "5", "5", "6"]
    first, second, third = api.api.tokens
    assert [seen.headers["authorization"] for seen in data] == [
        f"Bearer {token}" for token in (first, first, first, second, second, second, third, third)
    ]
    assert fetcher.stats.retries == 0
    assert fetcher.stats.pages == 6


async def test_a_second_401_is_terminal_and_names_the_endpoint_not_the_token(
    api: RunningApi,
) -> None:
    api.api.token_uses = 0
    with pytest.raises(HttpTerminalError) as raised:
        await fetch_all(protected_plan(api, 11))
    message = str(raised.value)
    assert raised.value.status == 401
    assert message.startswith(f"items: HTTP 401 from {api.base_url}/protected/11 again with a new")
    assert "invalid_token" in message
    assert len(api.api.tokens) == 2
    assert len(api.api.requests_to("/protected/")) == 2
    for secret in (*api.api.tokens, OAUTH_CLIENT[1]):
        assert secret not in message


async def test_chains_refused_at_once_share_one_new_token(api: RunningApi) -> None:
    # Two chains, each request of one answered only beside the other's: both meet each
    # revocation with the same token, and one of them fetches the next for both.
    api.api.token_lifetime = None
    api.api.token_uses = 2
    api.api.pair_up = 2
    found, _ = await fetch_all(protected_plan(api, 5, shards=["a", "b"]))
    assert [records(pages) for pages in found] == [items(0, 5, 5)] * 2
    assert len(api.api.requests_to("/oauth/token")) == 3
    # Three pages a chain; pages 2 and 3 were refused once and sent again.
    assert len(api.api.requests_to("/protected/")) == 2 * 5
