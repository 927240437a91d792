"""What every response carries, whatever its status: request ids, security and CORS headers.

Also metrics, health, the IDE, a second server with the IDE and introspection switched off,
and unexpected errors, provoked for real (an event level this API does not know, as a newer
runner could write), masked to the client and logged in full as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_client import Api, GraphQLSocket, Keys, Server, spec_for, start_server
from graphql import GraphQLError, Source, parse
from tortoise import connections
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from api.schema.extensions import expected
from headwater.settings import Settings

SETTINGS = Settings()
ALLOWED_ORIGIN = SETTINGS.cors_origins[0]
OTHER_ORIGIN = "https://elsewhere.example"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def locked_down(database_url: str) -> Iterator[Server]:
    """A second server with GraphiQL and introspection off, logging at INFO."""
    server = start_server(
        database_url,
        HEADWATER_GRAPHIQL="false",
        HEADWATER_INTROSPECTION="false",
        HEADWATER_LOG_LEVEL="INFO",
    )
    yield server
    server.stop()


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- security headers and request ids --------------------------------------------------------


def assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert GENERATED_ID.match(headers["x-request-id"]), headers.get("x-request-id")


async def responses(http: httpx.AsyncClient, keys: Keys) -> dict[str, httpx.Response]:
    """One response of each kind the API gives, by name."""
    graphql = {"query": "{ __typename }"}
    return {
        "graphql": await http.post("/graphql", json=graphql, headers=bearer(keys.read)),
        "graphql-error": await http.post(
            "/graphql", json={"query": "{ nope }"}, headers=bearer(keys.read)
        ),
        "graphql-get": await http.get("/graphql", params=graphql, headers=bearer(keys.read)),
        "unauthenticated": await http.post("/graphql", json=graphql),
        "not-json": await http.post(
            "/graphql",
            content=b"{",
            headers={**bearer(keys.read), "Content-Type": "application/json"},
        ),
        "too-large": await http.post(
            "/graphql",
            content=b" " * (SETTINGS.max_body_bytes + 1),
            headers={**bearer(keys.read), "Content-Type": "application/json"},
        ),
        "healthz": await http.get("/healthz"),
        "readyz": await http.get("/readyz"),
        "metrics": await http.get("/metrics", headers=bearer(keys.read)),
        "metrics-unauthenticated": await http.get("/metrics"),
        "not-found": await http.get("/nowhere"),
    }


STATUSES = {
    "graphql": 200,
    "graphql-error": 200,
    "graphql-get": 200,
    "unauthenticated": 401,
    "not-json": 400,
    "too-large": 413,
    "healthz": 200,
    "readyz": 200,
    "metrics": 200,
    "metrics-unauthenticated": 401,
    "not-found": 404,
}


async def test_every_response_has_the_security_headers_and_a_request_id(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    got = await responses(http, keys)
    assert {name: response.status_code for name, response in got.items()} == STATUSES
    for name, response in got.items():
        assert_security_headers(response)
        # Nothing the API answers with needs to load anything: the strictest policy.
        assert response.headers["content-security-policy"] == API_CSP, name
    ids = {response.headers["x-request-id"] for response in got.values()}
    assert len(ids) == len(got), "request ids repeat"


async def test_the_ide_page_has_the_headers_but_not_the_api_csp(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert_security_headers(page)
    # The API's `default-src 'none'` would stop GraphiQL's own scripts.
    assert "default-src 'none'" not in page.headers.get("content-security-policy", "")


async def test_the_request_id_is_in_the_body_too(http: httpx.AsyncClient, keys: Keys) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers=bearer(keys.read)
    )
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.match(request_id)
    assert response.json()["extensions"] == {"requestId": request_id}


@pytest.mark.parametrize(
    "given", ["abc-123_X.y", "a" * 64, "0", "7f8e9d"], ids=["mixed", "64-chars", "one", "hex"]
)
async def test_a_well_formed_request_id_is_kept(
    http: httpx.AsyncClient, keys: Keys, given: str
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={**bearer(keys.read), "X-Request-ID": given},
    )
    assert response.headers["x-request-id"] == given
    assert response.json()["extensions"]["requestId"] == given


@pytest.mark.parametrize(
    "given",
    ["has space", "a" * 65, "<script>", "semi;colon", "new\\nline", "ünïcode"],
    ids=["space", "65-chars", "markup", "semicolon", "backslash", "non-ascii"],
)
async def test_a_malformed_request_id_is_replaced(
    http: httpx.AsyncClient, keys: Keys, given: str
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={b"Authorization": f"Bearer {keys.read}".encode(), b"X-Request-ID": given.encode()},
    )
    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.match(request_id), request_id
    assert response.json()["extensions"]["requestId"] == request_id


async def test_a_websocket_gets_its_request_id_in_the_ack(api: Api, keys: Keys) -> None:
    async with connect(
        api.ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"X-Request-ID": "socket-1"},
    ) as ws:
        socket = GraphQLSocket(ws)
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(keys.read)}))
        assert await socket.receive() == {
            "type": "connection_ack",
            "payload": {"requestId": "socket-1"},
        }
        await socket.subscribe("1", "{ __typename }")
        message = await socket.receive()
        assert message["payload"]["extensions"] == {"requestId": "socket-1"}


# --- CORS ------------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
    }


@pytest.mark.parametrize("origin", SETTINGS.cors_origins)
async def test_a_preflight_from_an_allowed_origin_succeeds(
    http: httpx.AsyncClient, origin: str
) -> None:
    response = await http.options("/graphql", headers=preflight(origin))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "x-api-key", "content-type", "x-request-id"} <= allowed
    # No cookies are used, so credentials are never allowed.
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_gets_no_allow_origin(
    http: httpx.AsyncClient,
) -> None:
    response = await http.options("/graphql", headers=preflight(OTHER_ORIGIN))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_cross_origin_request_is_readable_only_from_an_allowed_origin(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    query = {"query": "{ __typename }"}
    allowed = await http.post(
        "/graphql", json=query, headers={**bearer(keys.read), "Origin": ALLOWED_ORIGIN}
    )
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = await http.post(
        "/graphql", json=query, headers={**bearer(keys.read), "Origin": OTHER_ORIGIN}
    )
    assert "access-control-allow-origin" not in other.headers
    # Refusals are readable by the allowed origin too (a browser app must see the 401).
    denied = await http.post("/graphql", json=query, headers={"Origin": ALLOWED_ORIGIN})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


async def test_a_websocket_from_another_origin_is_refused(api: Api, keys: Keys) -> None:
    # Browsers do not apply CORS to websockets: the server must check the Origin itself.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            api.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            origin=OTHER_ORIGIN,  # type: ignore[arg-type]
        ):
            pass
    assert refused.value.response.status_code == 403
    async with connect(
        api.ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        origin=ALLOWED_ORIGIN,  # type: ignore[arg-type]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(keys.read)}))
        assert (await GraphQLSocket(ws).receive())["type"] == "connection_ack"


# --- health, metrics, the IDE ----------------------------------------------------------------


async def test_health_and_readiness_are_open(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": True, "broker": True}


def samples(text: str, name: str) -> dict[str, float]:
    """The samples of metric ``name`` in Prometheus text, by their label string."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


async def scrape(http: httpx.AsyncClient, keys: Keys) -> str:
    response = await http.get("/metrics", headers=bearer(keys.read))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_need_a_key(http: httpx.AsyncClient, keys: Keys) -> None:
    refused = await http.get("/metrics")
    assert refused.status_code == 401
    assert "headwater_" not in refused.text
    assert (await http.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert "# TYPE headwater_active_subscriptions gauge" in await scrape(http, keys)


async def test_operation_latency_is_counted_per_operation(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    series = '{operation="MetricsProbe",type="query"}'
    count = "headwater_graphql_operation_seconds_count"
    before = samples(await scrape(http, keys), count).get(series, 0.0)
    for _ in range(3):
        await http.post(
            "/graphql",
            json={"query": "query MetricsProbe { __typename }"},
            headers=bearer(keys.read),
        )
    text = await scrape(http, keys)
    assert samples(text, count)[series] == before + 3
    buckets = samples(text, "headwater_graphql_operation_seconds_bucket")
    assert buckets['{le="+Inf",operation="MetricsProbe",type="query"}'] == before + 3


async def wait_for_metric(
    http: httpx.AsyncClient, keys: Keys, name: str, wanted: Any, timeout: float = 10.0
) -> float:
    """Scrape until ``wanted(value)`` holds for the unlabelled metric ``name``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = samples(await scrape(http, keys), name).get("", float("nan"))
        if wanted(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, f"{name} stayed at {value}"
        await asyncio.sleep(0.05)


async def test_active_subscriptions_and_broker_lag_are_measured(
    api: Api, http: httpx.AsyncClient, keys: Keys
) -> None:
    lag = "headwater_broker_lag_seconds_count"
    active = "headwater_active_subscriptions"
    provider = (
        await api.data(
            "mutation($s: String!) { createProvider(spec: $s) "
            "{ ... on ProviderSaved { provider { id } } } }",
            {"s": spec_for()},
            keys.admin,
        )
    )["createProvider"]["provider"]["id"]
    lag_before = samples(await scrape(http, keys), lag)[""]
    run = (
        await api.data(
            "mutation($p: ID!) { triggerRun(providerId: $p) { ... on RunQueued { run { id } } } }",
            {"p": provider},
            keys.run,
        )
    )["triggerRun"]["run"]["id"]
    # The run's first event went through NOTIFY: the broker measured how late it was.
    await wait_for_metric(http, keys, lag, lambda value: value > lag_before)
    async with api.websocket(keys.read) as socket:
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.subscribe(
            "1", "subscription($r: ID!) { runStatus(runId: $r) { status } }", {"r": run}
        )
        assert (await socket.receive())["payload"]["data"] == {"runStatus": {"status": "QUEUED"}}
        opened = await wait_for_metric(http, keys, active, lambda value: value >= 1)
        await socket.stop("1")
        await wait_for_metric(http, keys, active, lambda value: value == opened - 1)


async def test_the_ide_is_served_to_a_browser_without_a_key(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_introspection_works_when_switched_on(api: Api, keys: Keys) -> None:
    data = await api.data("{ __schema { queryType { name } } }", key=keys.read)
    assert data == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("{ __schema { queryType { name } } }", "__schema"),
        ('{ __type(name: "RunNode") { fields { name } } }', "__type"),
        ("{ runs { totalCount } __schema { types { name } } }", "__schema"),
    ],
)
async def test_introspection_switched_off_is_refused(
    locked_down: Server, keys: Keys, document: str, field: str
) -> None:
    body = await locked_down.api.gql(document, key=keys.read)
    assert body.get("data") is None
    refusal = "GraphQL introspection has been disabled, but the requested query contained"
    # One error per introspection field asked for, the root one first.
    assert body["errors"][0]["message"] == f"{refusal} the field '{field}'."
    assert all(error["message"].startswith(refusal) for error in body["errors"])
    # Ordinary queries still work.
    assert await locked_down.api.data("{ __typename }", key=keys.read) == {"__typename": "Query"}


async def test_no_ide_when_switched_off(locked_down: Server, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=locked_down.api.base_url) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert not page.headers["content-type"].startswith("text/html")
        assert "graphiql" not in page.text.lower()
        # A key changes nothing: there is no page to serve.
        with_key = await client.get(
            "/graphql", headers={"Accept": "text/html", **bearer(keys.read)}
        )
        assert with_key.status_code == 404


# --- unexpected errors -----------------------------------------------------------------------


async def run_with_an_unknown_event_level(api: Api, keys: Keys) -> str:
    """A run whose events include a level this API cannot represent (as a newer runner might)."""
    provider = (
        await api.data(
            "mutation($s: String!) { createProvider(spec: $s) "
            "{ ... on ProviderSaved { provider { id } } } }",
            {"s": spec_for()},
            keys.admin,
        )
    )["createProvider"]["provider"]["id"]
    run = (
        await api.data(
            "mutation($p: ID!) { triggerRun(providerId: $p) { ... on RunQueued { run { id } } } }",
            {"p": provider},
            keys.run,
        )
    )["triggerRun"]["run"]["id"]
    await connections.get("default").execute_query(
        "INSERT INTO run_events (run_id, kind, level, message) "
        "VALUES ($1, 'LOG', 'TRACE', 'secret-ish detail')",
        [int(run)],
    )
    return str(run)


async def test_an_unexpected_error_is_masked_with_the_request_id(api: Api, keys: Keys) -> None:
    run = await run_with_an_unknown_event_level(api, keys)
    response = await api.post(
        "query($r: ID!) { runLogs(runId: $r) { events { level } } }",
        {"r": run},
        keys.read,
        headers={"X-Request-ID": "masked-1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error == {
        "message": "Unexpected error; quote request id masked-1 to the operators.",
        "locations": [{"line": 1, "column": 18}],
        "path": ["runLogs"],
        "extensions": {"code": "INTERNAL", "requestId": "masked-1"},
    }
    assert "TRACE" not in response.text and "secret-ish" not in response.text
    assert body["extensions"] == {"requestId": "masked-1"}


async def test_an_unexpected_error_in_a_subscription_is_masked(api: Api, keys: Keys) -> None:
    run = await run_with_an_unknown_event_level(api, keys)
    async with api.websocket(keys.read) as socket:
        ack = await socket.receive()
        assert ack["type"] == "connection_ack"
        await socket.subscribe(
            "1", "subscription($r: ID!) { runEvents(runId: $r) { seq level } }", {"r": run}
        )
        first = await socket.receive()
        assert first["payload"]["data"] == {"runEvents": {"seq": 1, "level": "INFO"}}
        second = await socket.receive()
        [error] = second["payload"]["errors"]
        assert error["extensions"] == {"code": "INTERNAL", "requestId": ack["payload"]["requestId"]}
        assert "TRACE" not in json.dumps(second)


def log_lines(server: Server) -> list[str]:
    return Path(server.log.name).read_text().splitlines()


def json_lines(server: Server) -> list[dict[str, Any]]:
    found = []
    for line in log_lines(server):
        # The last line may be half written; it is read again on the next look.
        with contextlib.suppress(json.JSONDecodeError):
            if line.startswith("{"):
                found.append(json.loads(line))
    return found


async def wait_for_log(server: Server, wanted: Any) -> dict[str, Any]:
    """The first JSON log entry for which ``wanted`` holds (the server writes asynchronously)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        for entry in json_lines(server):
            if wanted(entry):
                return entry
        assert asyncio.get_running_loop().time() < deadline, "no such log entry"
        await asyncio.sleep(0.05)


async def test_the_unexpected_error_is_logged_in_full_as_json(
    api: Api, locked_down: Server, keys: Keys
) -> None:
    run = await run_with_an_unknown_event_level(api, keys)
    response = await locked_down.api.post(
        "query($r: ID!) { runLogs(runId: $r) { events { level } } }",
        {"r": run},
        keys.read,
        headers={"X-Request-ID": "logged-1"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    entry = await wait_for_log(
        locked_down,
        lambda e: e.get("event") == "graphql.unexpected_error" and e["request_id"] == "logged-1",
    )
    assert entry["level"] == "error" and entry["path"] == ["runLogs"]
    assert "TRACE" in entry["error"] and "Traceback" in entry["exception"]
    access = await wait_for_log(
        locked_down, lambda e: e.get("event") == "request" and e["request_id"] == "logged-1"
    )
    assert (access["method"], access["path"], access["status"]) == ("POST", "/graphql", 200)
    assert access["duration_ms"] >= 0 and access["level"] == "info"


async def test_every_log_line_is_json(locked_down: Server, keys: Keys) -> None:
    await locked_down.api.gql('{ run(id: "abc") { id } }', key=keys.read)
    await asyncio.sleep(0.2)
    plain = [line for line in log_lines(locked_down) if not line.startswith("{")]
    assert plain == []


@pytest.mark.parametrize(
    ("error", "is_expected"),
    [
        (GraphQLError("Syntax Error: Expected Name"), True),
        (GraphQLError("typed", extensions={"code": "NOT_FOUND"}), True),
        (
            GraphQLError("located", path=["run"], original_error=GraphQLError("typed")),
            True,
        ),
        (GraphQLError("boom", path=["run"], original_error=RuntimeError("db down")), False),
        (GraphQLError("boom", original_error=KeyError("G")), False),
        (GraphQLError("bad", path=["runLogs"], original_error=ValueError("TRACE")), False),
        # A subscription's source raising: no path and no node, and still not the client's.
        (GraphQLError("bad", original_error=ValueError("TRACE")), False),
    ],
    ids=[
        "syntax",
        "typed",
        "typed-located",
        "runtime",
        "escaped-validation",
        "value-in-resolver",
        "value-in-subscription",
    ],
)
def test_expected_decides_what_the_client_may_read(error: GraphQLError, is_expected: bool) -> None:
    assert expected(error) is is_expected


def test_a_literal_a_scalar_refused_is_the_clients() -> None:
    document = parse(Source('{ runLogs(runId: 1, after: "x") { lastSeq } }'))
    literal = document.definitions[0].selection_set.selections[0].arguments[1].value  # type: ignore[attr-defined]
    error = GraphQLError("Expected value of type 'Long'", literal, original_error=ValueError("x"))
    assert expected(error)
