"""The API under abuse by a key holder: each attack tried against a real `headwater api`.

Most run on a server of their own with small limits (so a limit is reached in a few requests);
each test has fresh keys, so one test's spent budget is not the next one's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from api_client import Api, Keys, spec_for, start_server
from live_client import logs, new_provider, new_run
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api import sql
from api.auth import create_key
from api.models import ApiKey, Scope
from api.schema.loaders import Loaders

LIMITS = {
    "HEADWATER_MAX_QUERY_COST": "5000",
    "HEADWATER_RATE_LIMIT_PER_MINUTE": "6000",
    "HEADWATER_MAX_LIST_ITEMS": "10",
    "HEADWATER_MAX_SUBSCRIPTIONS_PER_SOCKET": "3",
    "HEADWATER_MAX_SUBSCRIPTIONS_PER_KEY": "4",
    "HEADWATER_KEY_RECHECK_SECONDS": "0.5",
    "HEADWATER_MAX_BODY_BYTES": "65536",
}
RUNS = """query($ids: [ID!], $first: Int) { runs(first: $first, filter: {providerIds: $ids}) {
  edges { node { id status } } } }"""
#: Stays open and quiet until a run changes status (none does in these tests).
FEED = "subscription { runsFeed { status } }"
VALIDATE_MANY = (
    "query($t: String!) { "
    + " ".join(f"v{i}: validateSpec(text: $t) {{ valid issues {{ code }} }}" for i in range(30))
    + " }"
)


@pytest.fixture(scope="module")
def strict(database_url: str) -> Iterator[Api]:
    """A server with limits a test reaches in a few requests."""
    server = start_server(database_url, log_name="test-api-strict", **LIMITS)
    yield server.api
    server.stop()


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_a_long_list_in_the_variables_is_refused_before_it_is_read(
    strict: Api, keys: Keys
) -> None:
    body = (await strict.post(RUNS, {"ids": [str(i) for i in range(1, 12)]}, keys.read)).json()
    assert _codes(body) == ["LIMIT_EXCEEDED"] and body["data"] is None
    assert "$ids holds 11 items; at most 10" in body["errors"][0]["message"]
    # 6,000 ids (near the body limit): refused as fast as 11, none of them read.
    started = time.perf_counter()
    response = await strict.post(RUNS, {"ids": [str(i) for i in range(1, 6001)]}, keys.read)
    assert response.status_code == 200 and _codes(response.json()) == ["LIMIT_EXCEEDED"]
    assert time.perf_counter() - started < 1.0
    fine = await strict.data(RUNS, {"ids": ["1", "2"]}, keys.read)
    assert fine["runs"]["edges"] == []


async def test_an_operation_over_the_cost_limit_is_refused_with_its_estimate(
    strict: Api, keys: Keys
) -> None:
    nested = """{ runs(first: 200) { edges { node { id
      events(first: 200) { events { seq message } } } } } }"""
    body = await strict.gql(nested, key=keys.read)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > 80_000 and error["extensions"]["limit"] == 5000
    assert "ask for fewer items (`first:`)" in error["message"]
    # A fragment does not hide the nesting, nor does a variable hide `first`.
    spread = """query($n: Int) { runs(first: $n) { ...Rows } }
      fragment Rows on RunConnection { edges { node { events(first: 200) { events { seq } } } } }"""
    assert _codes(await strict.gql(spread, {"n": 100}, keys.read)) == ["QUERY_TOO_COMPLEX"]
    assert _codes(await strict.gql(spread, {"n": 5}, keys.read)) == []
    # Nor does a variable's default, or an Int sent as 100.0.
    defaulted = spread.replace("query($n: Int)", "query($n: Int = 100)")
    assert _codes(await strict.gql(defaulted, key=keys.read)) == ["QUERY_TOO_COMPLEX"]
    assert _codes(await strict.gql(spread, {"n": 100.0}, keys.read)) == ["QUERY_TOO_COMPLEX"]
    # Introspection resolves the whole schema: thirty aliases of it are over the limit.
    many = "{ " + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(30)) + " }"
    assert _codes(await strict.gql(many, key=keys.read)) == ["QUERY_TOO_COMPLEX"]


def _costing(fields: int) -> str:
    """A query the cost estimate puts at exactly ``fields`` (1 + 2n, or n aliases)."""
    if fields > 30:
        return f"{{ runs(first: {min(200, (fields - 1) // 2)}) {{ edges {{ cursor }} }} }}"
    return "{ " + " ".join(f"a{i}: __typename" for i in range(fields)) + " }"


async def test_a_key_out_of_budget_gets_429_with_retry_after(strict: Api, keys: Keys) -> None:
    page = "{ runs(first: 200) { edges { node { id status trigger createdAt } } } }"
    statuses: list[int] = []
    # A key of its own: the server keeps budgets by key id, which the next test's keys reuse.
    spender = (await create_key("spender", [Scope.READ], tenant_id=None, created_by="tests")).token
    async with httpx.AsyncClient(base_url=strict.base_url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {spender}"}

        async def post(query: str) -> httpx.Response:
            return await http.post("/graphql", json={"query": query}, headers=headers)

        for _ in range(10):
            response = await post(page)
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        # 1,201 fields a request against 6,000 a minute: the fifth is refused.
        assert statuses[-1] == 429 and 4 <= len(statuses) <= 6, statuses
        assert int(response.headers["retry-after"]) >= 1
        assert _codes(response.json()) == ["RATE_LIMITED"]
        assert response.json()["errors"][0]["extensions"]["retryAfter"] >= 1
        # The refused request spent nothing: what is left still serves smaller ones, down to
        # nothing; then the key is refused before its body is even read (no `data` at all).
        for _ in range(50):
            left = int(response.headers["x-ratelimit-remaining"])
            response = await post(_costing(left) if left else "{ __typename }")
            if response.status_code == 429 and "data" not in response.json():
                break
            assert response.status_code == 200, response.text
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert response.headers["x-ratelimit-remaining"] == "0"
    # Another key is not affected.
    other = await strict.data("{ runs(first: 5) { edges { node { id } } } }", key=keys.run)
    assert other["runs"]["edges"] == []


async def test_a_websocket_message_over_the_body_limit_closes_the_socket(
    strict: Api, keys: Keys
) -> None:
    init = json.dumps(
        {"type": "connection_init", "payload": {"Authorization": f"Bearer {keys.read}"}}
    )
    for size in (65_536 + 100, 4 * 1_048_576):
        async with connect(strict.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(init)
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            padding = "x" * size
            message = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "{ __typename }", "variables": {"p": padding}},
            }
            await ws.send(json.dumps(message))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def _subscribe(ws: Any, ident: str) -> None:
    await ws.send(json.dumps({"id": ident, "type": "subscribe", "payload": {"query": FEED}}))


@pytest.fixture
async def sockets(strict: Api, keys: Keys) -> AsyncIterator[list[Any]]:
    """Two acknowledged sockets of the read key."""
    async with (
        connect(strict.ws_url, subprotocols=["graphql-transport-ws"]) as first,  # type: ignore[list-item]
        connect(strict.ws_url, subprotocols=["graphql-transport-ws"]) as second,  # type: ignore[list-item]
    ):
        for ws in (first, second):
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {keys.read}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield [first, second]


async def _quiet(ws: Any, seconds: float = 0.5) -> bool:
    """True when nothing arrives on ``ws`` for ``seconds``."""
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return message is None


async def test_subscriptions_are_capped_per_socket_and_per_key(sockets: list[Any]) -> None:
    first, second = sockets
    for ident in ("a", "b", "c"):
        await _subscribe(first, ident)
    assert await _quiet(first)  # three open, nothing refused
    await _subscribe(first, "d")
    refused = json.loads(await asyncio.wait_for(first.recv(), 5))
    assert (refused["id"], refused["type"]) == ("d", "error")
    assert "limit" in refused["payload"][0]["message"].lower()
    # The key holds three; the second socket may open one more, not two.
    await _subscribe(second, "e")
    assert await _quiet(second)
    await _subscribe(second, "f")
    over = json.loads(await asyncio.wait_for(second.recv(), 5))
    assert (over["id"], over["type"]) == ("f", "error")
    assert over["payload"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    # Completing one frees its slot for the key.
    await first.send(json.dumps({"id": "a", "type": "complete"}))
    await asyncio.sleep(0.3)
    await _subscribe(second, "g")
    assert await _quiet(second)


async def _drain(ws: Any) -> None:
    """Reads until the socket closes (raising ConnectionClosed), 5 s at most per message."""
    while True:
        await asyncio.wait_for(ws.recv(), 5)


async def test_a_revoked_keys_subscriptions_end_within_seconds(sockets: list[Any]) -> None:
    first, second = sockets
    await _subscribe(first, "a")
    await _subscribe(second, "b")
    assert await _quiet(first, 0.3)
    await ApiKey.filter(name="reader").update(revoked_at=datetime.now(UTC))
    started = time.monotonic()
    for ws in (first, second):
        with pytest.raises(ConnectionClosed) as closed:
            await _drain(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # Rechecked every 0.5 s here (2 s by default).
    assert time.monotonic() - started < 3.0


async def test_thirty_aliased_validations_do_not_block_other_requests(api: Api, keys: Keys) -> None:
    padding = "notes:\n" + "".join(f"  - padding line {i} of a long spec\n" for i in range(800))
    text = spec_for() + padding
    assert 30 * len(text) < 1_048_576
    ping_times: list[float] = []

    async def heavy() -> float:
        started = time.perf_counter()
        data = await api.data(VALIDATE_MANY, {"t": text}, keys.read)
        assert all(data[f"v{i}"]["valid"] for i in range(30))
        return time.perf_counter() - started

    async def ping(until: asyncio.Future[Any]) -> None:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            headers = {"Authorization": f"Bearer {keys.run}"}
            while not until.done():
                sent = time.perf_counter()
                response = await http.post(
                    "/graphql",
                    json={"query": "{ runs(first: 1) { edges { cursor } } }"},
                    headers=headers,
                )
                assert response.status_code == 200
                ping_times.append(time.perf_counter() - sent)

    work = asyncio.gather(*(heavy() for _ in range(6)))
    await ping(work)
    took = await work
    # 180 validations of 30 KB took seconds; the pings in the meantime, milliseconds.
    assert len(ping_times) >= 5 and max(ping_times) < min(0.5, max(took) / 4), (ping_times, took)
    # Over the request's spec budget: refused before any is validated.
    big = text + "x" * (40_000 - len(text)) if len(text) < 40_000 else text
    refused = await api.gql(VALIDATE_MANY, {"t": big + "\n#" + "y" * 1000}, keys.read)
    assert (
        _codes(refused) == ["LIMIT_EXCEEDED"]
        and "bytes of spec text" in refused["errors"][0]["message"]
    )


async def test_a_page_of_runs_reads_its_events_in_one_query(
    api: Api, keys: Keys, orm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = await new_provider(api, keys.write)
    runs = [await new_run(api, keys.run, provider) for _ in range(3)]
    conn = await asyncpg.connect(orm)
    try:
        for count, run in enumerate(runs, start=2):
            await logs(conn, run, count * 3)
        expected = {
            run: [
                row["seq"]
                for row in await conn.fetch(
                    "SELECT seq FROM run_events WHERE run_id = $1 AND seq > 1 ORDER BY seq LIMIT 5",
                    run,
                )
            ]
            for run in runs
        }
    finally:
        await conn.close()
    queries: list[str] = []
    real = sql.rows

    async def counted(query: str, args: list[Any] | None = None) -> list[dict[str, Any]]:
        queries.append(query)
        return await real(query, args)

    # The real loader on the real database, in this process: the queries are only counted.
    monkeypatch.setattr(sql, "rows", counted)
    loaders = Loaders()
    pages = await asyncio.gather(*(loaders.event_page.load((run, 1, 5, ())) for run in runs))
    assert len(queries) == 1 and "LATERAL" in queries[0]
    assert {
        run: [row["seq"] for row in page] for run, page in zip(runs, pages, strict=True)
    } == expected
    assert all(len(seqs) == 5 for seqs in expected.values())
    over_http = await api.data(
        "{ runs(first: 10) { edges { node { id events(after: 1, first: 5) { events { seq } } } } } }",
        key=keys.read,
    )
    seen = {
        int(edge["node"]["id"]): [event["seq"] for event in edge["node"]["events"]["events"]]
        for edge in over_http["runs"]["edges"]
    }
    assert seen == expected
