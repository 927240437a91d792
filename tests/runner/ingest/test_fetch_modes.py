"""The Fetcher against our own paged API: every pagination style, auth on every page, retries."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from paged_api import (
    CURSOR_PAGE,
    ECHO_AUTH,
    OAUTH_CLIENT,
    RunningApi,
    Scripted,
    Seen,
    basic,
    compile_plan,
    items,
    spec_text,
)

from runner.ingest.exceptions import HttpTerminalError, HttpTransientError
from runner.ingest.fetch import Fetcher, Page, retry_after
from runner.ingest.inputs import Chain, RunInputs, chains
from runner.ingest.job import resolve_secrets
from runner.ingest.ratelimit import buckets
from runner.ingest.secrets import Redactor, SecretValue
from runner.ingest.templates import Filler
from uis_compiler.compilers.options import CompileOptions, SparkOptions
from uis_compiler.plan import SparkPlan

DAY = date(2024, 3, 1)
CREDENTIALS = {"credentials_ref": "env:HEADWATER_SECRET_PAGED_CREDENTIALS"}


@dataclass
class Fetched:
    """What one fetch did: the pages, the delays it asked to sleep, its Fetcher."""

    pages: list[Page]
    delays: list[float]
    fetcher: Fetcher

    @property
    def records(self) -> list[Any]:
        return [record for page in self.pages for record in page.records]


def plan_of(
    api: RunningApi,
    endpoint: dict[str, Any],
    provider: dict[str, Any] | None = None,
    options: CompileOptions | None = None,
) -> SparkPlan:
    return compile_plan(spec_text(api.base_url, {"name": "items", **endpoint}, provider), options)


def make_fetcher(
    plan: SparkPlan, secrets: dict[str, SecretValue], redact: Redactor, delays: list[float]
) -> Fetcher:
    async def record(seconds: float) -> None:
        # Retries ask to wait; the test keeps the request instead of sleeping.
        delays.append(seconds)

    return Fetcher(plan, lambda chain: Filler(chain.variables, secrets), redact, {}, sleep=record)


async def fetch(
    plan: SparkPlan, fetcher: Fetcher | None = None, delays: list[float] | None = None
) -> Fetched:
    """Every page of every chain of ``plan``, secrets resolved as the job resolves them."""
    delays = [] if delays is None else delays
    if fetcher is None:
        secrets, redact = resolve_secrets(plan, None)
        fetcher = make_fetcher(plan, secrets, redact, delays)
    inputs = RunInputs.for_window(plan, "run-fetch", logical_date=DAY)
    pages: list[Page] = []
    async with httpx.AsyncClient() as client:
        for chain in chains(plan, inputs):
            pages += [page async for page in fetcher.pages(client, chain)]
    return Fetched(pages, delays, fetcher)


@pytest.mark.parametrize(
    ("total", "offsets"),
    [(7, ["0", "3", "6"]), (6, ["0", "3", "6"]), (2, ["0"]), (0, ["0"])],
    ids=["short-last-page", "empty-last-page", "one-short-page", "nothing"],
)
async def test_offset_pages_until_a_short_or_empty_page(
    api: RunningApi, total: int, offsets: list[str]
) -> None:
    plan = plan_of(
        api,
        {
            "path": f"/offset/{total}",
            "pagination": "offset",
            "pagination_config": {"page_size": 3},
            "response_path": "$.data",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, total, total)
    assert [seen.query for seen in api.api.seen] == [{"offset": o, "limit": "3"} for o in offsets]
    assert [page.number for page in fetched.pages] == list(range(1, len(offsets) + 1))


@pytest.mark.parametrize(
    ("start", "total", "pages"),
    [(1, 7, [1, 2, 3]), (0, 7, [0, 1, 2]), (1, 6, [1, 2, 3]), (0, 6, [0, 1, 2])],
    ids=["from-1-short", "from-0-short", "from-1-empty", "from-0-empty"],
)
async def test_page_numbers_from_start_page_until_a_short_or_empty_page(
    api: RunningApi, start: int, total: int, pages: list[int]
) -> None:
    plan = plan_of(
        api,
        {
            "path": f"/page/{start}/{total}",
            "pagination": "page",
            "pagination_config": {
                "page_size": 3,
                "page_size_param": "per_page",
                "start_page": start,
            },
            "response_path": "$.data",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, total, total)
    assert [seen.query for seen in api.api.seen] == [
        {"page": str(page), "per_page": "3"} for page in pages
    ]


async def test_pages_without_a_page_size_stop_only_on_an_empty_page(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/page/1/4",
            "pagination": "page",
            "pagination_config": {"max_pages": 10},
            "response_path": "$.data",
        },
    )
    fetched = await fetch(plan)
    # Page 2 is short (1 record), but with no page size the job cannot know: it asks once more.
    assert fetched.records == items(0, 4, 4)
    assert [seen.query for seen in api.api.seen] == [{"page": "1"}, {"page": "2"}, {"page": "3"}]


async def test_a_token_cursor_is_sent_back_until_it_is_null(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/cursor/5",
            "query_params": {"sort": "asc"},
            "pagination": "cursor",
            "pagination_config": {"cursor_path": "$.meta.next", "cursor_param": "cursor"},
            "response_path": "$.items",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, 5, 5)
    assert [seen.query for seen in api.api.seen] == [
        {"sort": "asc"},
        {"sort": "asc", "cursor": "c2"},
        {"sort": "asc", "cursor": "c4"},
    ]


async def test_page_size_is_sent_as_the_limit_of_cursor_paging(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/cursor/10",
            "pagination": "cursor",
            "pagination_config": {
                "cursor_path": "$.meta.next",
                "cursor_param": "cursor",
                "page_size": 4,
            },
            "response_path": "$.items",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, 10, 10)
    assert [len(page.records) for page in fetched.pages] == [4, 4, 2]
    assert [seen.query for seen in api.api.seen] == [
        {"limit": "4"},
        {"limit": "4", "cursor": "c4"},
        {"limit": "4", "cursor": "c8"},
    ]


async def test_page_size_of_next_url_paging_goes_with_the_first_page(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/next/relative/10",
            "pagination": "cursor",
            "pagination_config": {"next_url_path": "$.next_url", "page_size": 5},
            "response_path": "$.results",
        },
    )
    fetched = await fetch(plan)
    assert [len(page.records) for page in fetched.pages] == [5, 5]
    assert [seen.query for seen in api.api.seen] == [
        {"limit": "5"},
        {"after": "5", "limit": "5"},
    ]


@pytest.mark.parametrize("style", ["relative", "absolute", "query-only"])
async def test_next_url_is_followed_relative_or_absolute(api: RunningApi, style: str) -> None:
    plan = plan_of(
        api,
        {
            "path": f"/next/{style}/5",
            "query_params": {"adjusted": "true"},
            "pagination": "cursor",
            "pagination_config": {"next_url_path": "$.next_url"},
            "response_path": "$.results",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, 5, 5)
    # The next URL carries its own query: the endpoint's parameters go with the first page only.
    assert [(seen.path, seen.query) for seen in api.api.seen] == [
        (f"/next/{style}/5", {"adjusted": "true"}),
        (f"/next/{style}/5", {"after": str(CURSOR_PAGE)}),
        (f"/next/{style}/5", {"after": str(2 * CURSOR_PAGE)}),
    ]
    assert fetched.pages[1].url == f"{api.base_url}/next/{style}/5?after={CURSOR_PAGE}"


@pytest.mark.parametrize(
    ("path", "response_path", "expected"),
    [
        ("/shape/list", "$", items(0, 3, 3)),
        ("/shape/data", "$.data", items(0, 3, 3)),
        ("/shape/data", "$.data[*]", items(0, 3, 3)),
        ("/shape/data", "$['data'][1]", items(1, 2, 3)),
        ("/shape/one", "$.data", items(0, 1, 3)),
        ("/shape/data", "$.missing", []),
    ],
)
async def test_response_path_selects_the_records(
    api: RunningApi, path: str, response_path: str, expected: list[Any]
) -> None:
    plan = plan_of(api, {"path": path, "response_path": response_path})
    fetched = await fetch(plan)
    assert fetched.records == expected
    assert len(api.api.seen) == 1


async def test_a_query_written_in_the_path_is_kept_beside_query_params(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/shape/data?format=json",
            "query_params": {"lang": "en"},
            "response_path": "$.data",
        },
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, 3, 3)
    assert [seen.query for seen in api.api.seen] == [{"format": "json", "lang": "en"}]


@pytest.mark.parametrize(
    ("path", "response_path", "pagination", "config"),
    [
        (
            "/cursor/100",
            "$.items",
            "cursor",
            {"cursor_path": "$.meta.next", "cursor_param": "cursor"},
        ),
        ("/next/relative/100", "$.results", "cursor", {}),
        ("/offset/100", "$.data", "offset", {"page_size": 2}),
        ("/page/1/100", "$.data", "page", {"page_size": 2, "page_size_param": "per_page"}),
    ],
    ids=["cursor", "next_url", "offset", "page"],
)
async def test_max_pages_caps_every_mode(
    api: RunningApi, path: str, response_path: str, pagination: str, config: dict[str, Any]
) -> None:
    plan = plan_of(
        api,
        {
            "path": path,
            "response_path": response_path,
            "pagination": pagination,
            "pagination_config": {**config, "max_pages": 3},
        },
    )
    fetched = await fetch(plan)
    assert len(api.api.seen) == 3
    assert fetched.records == items(0, 6, 100)


def header(name: str) -> Callable[[Seen], str | None]:
    return lambda seen: seen.headers.get(name)


AUTH_CASES = [
    pytest.param(
        {"auth": "api_key", "auth_config": {"header_name": "X-Api-Key"}},
        "key-0c9d2f71",
        header("x-api-key"),
        "key-0c9d2f71",
        id="api_key-header",
    ),
    pytest.param(
        {
            "auth": "api_key",
            "auth_config": {"header_name": "Authorization", "header_format": "Token {{ api_key }}"},
        },
        "key-0c9d2f71",
        header("authorization"),
        "Token key-0c9d2f71",
        id="api_key-header-format",
    ),
    pytest.param(
        {"auth": "api_key", "auth_config": {"location": "query", "param_name": "apiKey"}},
        "key-0c9d2f71",
        lambda seen: seen.query.get("apiKey"),
        "key-0c9d2f71",
        id="api_key-query",
    ),
    pytest.param(
        {"auth": "bearer"},
        "tok-5e6f7a8b",
        header("authorization"),
        "Bearer tok-5e6f7a8b",
        id="bearer",
    ),
    pytest.param(
        {"auth": "basic"},
        "reader:pa:ss-77",
        header("authorization"),
        # Only the first colon separates: passwords may hold colons.
        basic("reader", "pa:ss-77"),
        id="basic-user-colon-pass",
    ),
    pytest.param(
        {"auth": "basic"},
        json.dumps({"username": "reader", "password": "p@ss word:1"}),
        header("authorization"),
        basic("reader", "p@ss word:1"),
        id="basic-json-object",
    ),
]


@pytest.mark.parametrize(("auth", "credential", "read", "expected"), AUTH_CASES)
async def test_auth_is_applied_on_every_page(
    api: RunningApi,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict[str, Any],
    credential: str,
    read: Callable[[Seen], str | None],
    expected: str,
) -> None:
    monkeypatch.setenv("HEADWATER_SECRET_PAGED_CREDENTIALS", credential)
    plan = plan_of(
        api,
        {
            "path": "/next/relative/5",
            **auth,
            "pagination": "cursor",
            "pagination_config": {"next_url_path": "$.next_url"},
            "response_path": "$.results",
        },
        CREDENTIALS,
    )
    fetched = await fetch(plan)
    assert fetched.records == items(0, 5, 5)
    # Pages 2 and 3 come from next_url, which carries no credential: it is applied again.
    assert [read(seen) for seen in api.api.seen] == [expected] * 3


@pytest.fixture
def oauth_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials secret holds the client id and secret the token endpoint accepts."""
    client_id, client_secret = OAUTH_CLIENT
    credentials = {"client_id": client_id, "client_secret": client_secret}
    monkeypatch.setenv("HEADWATER_SECRET_PAGED_CREDENTIALS", json.dumps(credentials))


def oauth_plan(api: RunningApi, token_path: str = "/oauth/token") -> SparkPlan:
    return plan_of(
        api,
        {
            "path": "/page/1/5",
            "query_params": {"shard": "{{ shard }}"},
            "auth": "oauth2",
            "auth_config": {
                "token_url": f"{api.base_url}{token_path}",
                "scopes": ["read", "write"],
            },
            "pagination": "page",
            "pagination_config": {"page_size": 2, "page_size_param": "per_page"},
            "response_path": "$.data",
        },
        {**CREDENTIALS, "config": {"fan_out": {"shard": ["a", "b"]}}},
    )


async def test_oauth2_fetches_one_token_per_fetcher_and_sends_it_as_bearer(
    api: RunningApi, oauth_client: None
) -> None:
    plan = oauth_plan(api)
    fetched = await fetch(plan)
    assert fetched.records == items(0, 5, 5) * 2
    client_id, client_secret = OAUTH_CLIENT
    (token_request,) = api.api.requests_to("/oauth/token")
    assert token_request.method == "POST"
    form = dict(httpx.QueryParams(token_request.body.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": "read write",
    }
    (token,) = api.api.tokens
    data = [seen for seen in api.api.seen if seen.path.startswith("/page/")]
    assert len(data) == 6
    assert {seen.query["shard"] for seen in data} == {"a", "b"}
    assert {seen.headers["authorization"] for seen in data} == {f"Bearer {token}"}
    # The token is a secret of the run: every text leaving the job masks it.
    assert fetched.fetcher.redact(f"sent {token}") == "sent ***"

    again = await fetch(plan)
    assert len(api.api.tokens) == 2
    assert again.fetcher is not fetched.fetcher


async def test_concurrent_chains_share_one_oauth2_token(
    api: RunningApi, oauth_client: None
) -> None:
    plan = oauth_plan(api)
    secrets, redact = resolve_secrets(plan, None)
    fetcher = make_fetcher(plan, secrets, redact, [])
    inputs = RunInputs.for_window(plan, "run-fetch", logical_date=DAY)

    async def chain_records(client: httpx.AsyncClient, chain: Chain) -> list[Any]:
        return [record async for page in fetcher.pages(client, chain) for record in page.records]

    # As in the job: a worker's chains run at once on one event loop, sharing one Fetcher.
    async with httpx.AsyncClient() as client:
        found = await asyncio.gather(
            *(chain_records(client, chain) for chain in chains(plan, inputs))
        )
    assert found == [items(0, 5, 5)] * 2
    assert len(api.api.tokens) == 1
    assert len(api.api.requests_to("/oauth/token")) == 1


@pytest.mark.parametrize(
    ("scripted", "fragment"),
    [
        (Scripted(200, body=b"<html>sign in</html>"), "sent no access_token"),
        (Scripted(200, body=b'{"token": "x"}'), "sent no access_token"),
        (Scripted(400, body=b'{"error": "invalid_scope"}'), "answered 400"),
    ],
    ids=["not-json", "no-token", "refused"],
)
async def test_a_bad_token_endpoint_answer_is_terminal(
    api: RunningApi, oauth_client: None, scripted: Scripted, fragment: str
) -> None:
    api.api.script("token", scripted)
    delays: list[float] = []
    with pytest.raises(HttpTerminalError, match=fragment):
        await fetch(oauth_plan(api, "/script/token"), delays=delays)
    assert api.api.requests_to("/page/") == []
    assert delays == []


async def test_a_token_endpoint_5xx_is_retried(api: RunningApi, oauth_client: None) -> None:
    token = b'{"access_token": "tok-from-script-77", "token_type": "Bearer"}'
    api.api.script("token", Scripted(503), Scripted(200, body=token))
    fetched = await fetch(oauth_plan(api, "/script/token"))
    assert fetched.records == items(0, 5, 5) * 2
    assert len(fetched.delays) == 1
    assert len(api.api.requests_to("/script/token")) == 2
    data = api.api.requests_to("/page/")
    assert {seen.headers["authorization"] for seen in data} == {"Bearer tok-from-script-77"}


async def test_an_oauth2_token_is_never_echoed_in_errors(
    api: RunningApi, oauth_client: None
) -> None:
    plan = plan_of(
        api,
        {
            "path": "/script/refused",
            "auth": "oauth2",
            "auth_config": {"token_url": f"{api.base_url}/oauth/token"},
            "response_path": "$.data",
        },
        CREDENTIALS,
    )
    # Refused twice: the first 401 gets a new token and one more try.
    api.api.script("refused", Scripted(401, body=ECHO_AUTH), Scripted(401, body=ECHO_AUTH))
    with pytest.raises(HttpTerminalError) as raised:
        await fetch(plan)
    first, second = api.api.tokens
    assert raised.value.status == 401
    assert "refused Bearer ***" in str(raised.value)
    assert first not in str(raised.value) and second not in str(raised.value)


async def test_a_refused_oauth2_client_is_terminal_without_its_secret(
    api: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = json.dumps({"client_id": OAUTH_CLIENT[0], "client_secret": "not-the-secret-42"})
    monkeypatch.setenv("HEADWATER_SECRET_PAGED_CREDENTIALS", wrong)
    with pytest.raises(HttpTerminalError, match="token endpoint answered 401") as raised:
        await fetch(oauth_plan(api))
    assert "not-the-secret-42" not in str(raised.value)
    assert api.api.requests_to("/page/") == []


def script_plan(
    api: RunningApi, name: str, attempts: int = 5, backoff: float = 0.5, cap: float = 30.0
) -> SparkPlan:
    retry = SparkOptions(
        request_attempts=attempts, request_backoff_seconds=backoff, request_max_backoff_seconds=cap
    )
    return plan_of(
        api,
        {"path": f"/script/{name}", "response_path": "$.data"},
        options=CompileOptions(spark=retry),
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_4xx_is_terminal_at_once(api: RunningApi, status: int) -> None:
    api.api.script("gone", Scripted(status, body=b'{"error": "no such thing"}'))
    plan = script_plan(api, "gone")
    delays: list[float] = []
    with pytest.raises(HttpTerminalError) as raised:
        await fetch(plan, delays=delays)
    assert raised.value.status == status
    assert f"HTTP {status}" in str(raised.value) and "no such thing" in str(raised.value)
    assert len(api.api.seen) == 1
    assert delays == []


@pytest.mark.parametrize(
    ("header", "at_least", "at_most"),
    [
        ("7", 7.0, 7.0),
        ("0", 0.0, 0.5),
        ("in 30 s", 25.0, 30.0),
    ],
    ids=["seconds", "zero", "http-date"],
)
async def test_429_waits_at_least_retry_after(
    api: RunningApi, header: str, at_least: float, at_most: float
) -> None:
    if header == "in 30 s":
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    api.api.script("busy", Scripted(429, {"Retry-After": header}))
    fetched = await fetch(script_plan(api, "busy"))
    assert fetched.records == items(1, 2, 2)
    assert len(api.api.seen) == 2
    (delay,) = fetched.delays
    # Retry-After is a floor; the backoff's jitter (at most 0.5 s here) may only add to it.
    assert at_least <= delay <= max(at_most, 0.5)
    assert fetched.fetcher.stats.retries == 1


@pytest.mark.parametrize("header", ["999999", "in 3 years"], ids=["seconds", "http-date"])
async def test_retry_after_waits_no_longer_than_the_platform_cap(
    api: RunningApi, header: str
) -> None:
    if header == "in 3 years":
        header = format_datetime(datetime.now(UTC) + timedelta(days=3 * 365), usegmt=True)
    api.api.script("stalling", Scripted(429, {"Retry-After": header}))
    plan = script_plan(api, "stalling", backoff=0.1)
    secrets, redact = resolve_secrets(plan, None)
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    fetcher = Fetcher(
        plan,
        lambda chain: Filler(chain.variables, secrets),
        redact,
        {},
        sleep=record,
        max_retry_after=2.5,
    )
    fetched = await fetch(plan, fetcher, delays)
    assert fetched.records == items(1, 2, 2)
    assert delays == [2.5]
    # A wait the source asked for is a rate limit's wait.
    assert fetcher.stats.rate_limit_wait_seconds == 2.5


def test_retry_after_reads_seconds_dates_and_rejects_nonsense() -> None:
    def response(value: str | None) -> httpx.Response:
        headers = {} if value is None else {"Retry-After": value}
        return httpx.Response(429, headers=headers)

    assert retry_after(response("12")) == 12.0
    assert retry_after(response("-3")) == 0.0
    assert retry_after(response(None)) is None
    assert retry_after(response("soon")) is None
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_after(response(past)) == 0.0


@pytest.fixture
def seeded() -> Iterator[int]:
    state = random.getstate()
    seed = 20240301
    random.seed(seed)
    yield seed
    random.setstate(state)


async def test_backoff_doubles_is_capped_and_jittered(api: RunningApi, seeded: int) -> None:
    api.api.script("flaky", *[Scripted(503) for _ in range(6)])
    plan = script_plan(api, "flaky", attempts=7, backoff=1.0, cap=5.0)
    fetched = await fetch(plan)
    assert fetched.records == items(1, 2, 2)
    caps = [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert len(fetched.delays) == len(caps) == fetched.fetcher.stats.retries
    assert all(0.0 <= delay <= cap for delay, cap in zip(fetched.delays, caps, strict=True))
    # Full jitter: uniform in [0, cap]; the same seed gives the same draws.
    replay = random.Random(seeded)
    assert fetched.delays == pytest.approx([replay.uniform(0, cap) for cap in caps])
    assert fetched.delays != caps


async def test_transient_failures_give_up_after_max_attempts(api: RunningApi) -> None:
    api.api.script("down", *[Scripted(503) for _ in range(5)])
    delays: list[float] = []
    with pytest.raises(HttpTransientError, match=r"gave up after 3 attempts") as raised:
        await fetch(script_plan(api, "down", attempts=3), delays=delays)
    assert raised.value.status == 503
    assert len(api.api.seen) == 3
    assert len(delays) == 2


async def test_a_cut_body_is_retried(api: RunningApi) -> None:
    api.api.script("cut", Scripted(200, body=b'{"data": [{"id": 1'))
    fetched = await fetch(script_plan(api, "cut"))
    assert fetched.records == items(1, 2, 2)
    assert fetched.fetcher.stats.retries == 1
    assert fetched.fetcher.stats.requests == 2


async def test_a_refused_connection_is_transient_and_names_no_query(
    api: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("HEADWATER_SECRET_PAGED_CREDENTIALS", "key-0c9d2f71")
    endpoint = {
        "name": "items",
        "path": "/anything",
        "auth": "api_key",
        "auth_config": {"location": "query", "param_name": "apiKey"},
    }
    plan = compile_plan(
        spec_text(f"http://127.0.0.1:{closed}", endpoint, CREDENTIALS),
        CompileOptions(spark=SparkOptions(request_attempts=2)),
    )
    with pytest.raises(HttpTransientError, match="ConnectError") as raised:
        await fetch(plan)
    assert "key-0c9d2f71" not in str(raised.value)
    assert "apiKey" not in str(raised.value)


async def test_fan_out_values_are_url_encoded_in_the_path(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/tickers/{{ ticker }}",
            "query_params": {"symbol": "{{ ticker }}"},
            "response_path": "$.data",
        },
        {"config": {"fan_out": {"ticker": ["BRK/B", "A B", "X?y#z"]}}},
    )
    fetched = await fetch(plan)
    # One path segment each: `/` is %2F, so the server sees the whole value as the ticker.
    assert [seen.raw_path for seen in api.api.seen] == [
        "/tickers/BRK%2FB",
        "/tickers/A%20B",
        "/tickers/X%3Fy%23z",
    ]
    assert [seen.query["symbol"] for seen in api.api.seen] == ["BRK/B", "A B", "X?y#z"]
    assert [record["ticker"] for record in fetched.records] == ["BRK/B", "A B", "X?y#z"]


async def test_a_rate_limit_group_spaces_requests(api: RunningApi) -> None:
    plan = plan_of(
        api,
        {
            "path": "/offset/8",
            "pagination": "offset",
            "pagination_config": {"page_size": 2},
            "response_path": "$.data",
            "rate_limit_per_second": 20,
        },
    )
    assert plan.rate_limits == {"items": 20.0}
    secrets, redact = resolve_secrets(plan, None)
    fetcher = Fetcher(
        plan, lambda chain: Filler(chain.variables, secrets), redact, buckets(plan.rate_limits, 1)
    )
    started = time.monotonic()
    fetched = await fetch(plan, fetcher)
    elapsed = time.monotonic() - started
    # Five requests at 20/s with a burst of one: four intervals of 50 ms at least.
    assert len(api.api.seen) == 5
    assert elapsed >= 0.2
    assert fetched.fetcher.stats.rate_limit_wait_seconds >= 0.15
