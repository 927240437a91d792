"""Bad input is refused with an answer that says what and where, never with an internal error.

Query-side refusals are GraphQL errors (syntax and validation errors with locations; argument
values with `extensions.code` BAD_USER_INPUT naming the argument); mutation refusals are result
types (InvalidInput with `field`, SpecInvalid with each issue's position and code). The limits
are the server's own settings (the server and the tests read the same environment).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_client import Api, Keys, spec_for

from headwater.settings import Settings

LIMITS = Settings()


@dataclass(frozen=True)
class Objects:
    """One provider (tenant default) with one queued run, and the keys."""

    keys: Keys
    provider: str
    version: str
    run: str


@pytest.fixture
async def objects(api: Api, keys: Keys) -> Objects:
    saved = (
        await api.data(
            "mutation($s: String!) { createProvider(spec: $s) "
            "{ ... on ProviderSaved { provider { id } version { id } } } }",
            {"s": spec_for()},
            keys.admin,
        )
    )["createProvider"]
    queued = (
        await api.data(
            "mutation($p: ID!) { triggerRun(providerId: $p) { ... on RunQueued { run { id } } } }",
            {"p": saved["provider"]["id"]},
            keys.admin,
        )
    )["triggerRun"]
    return Objects(keys, saved["provider"]["id"], saved["version"]["id"], queued["run"]["id"])


def refused(body: dict[str, Any]) -> dict[str, Any]:
    """The one error of a request that produced no data."""
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    assert error.get("extensions", {}).get("code") != "INTERNAL", error
    return error


def bad_user_input(body: dict[str, Any], field: str) -> dict[str, Any]:
    error = refused(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field, error
    return error


# --- documents that are not GraphQL, or not this schema's ------------------------------------


@pytest.mark.parametrize(
    ("document", "line", "column"),
    [
        ("{ runs {", 1, 9),
        ("{ runs(first: ) { totalCount } }", 1, 15),
        ("query {\n  runs { totalCount }\n  }\n}", 4, 1),
        ('{ validateSpec(text: "unterminated) { valid } }', 1, 48),
    ],
)
async def test_a_syntax_error_has_a_location_and_no_data(
    api: Api, keys: Keys, document: str, line: int, column: int
) -> None:
    error = refused(await api.gql(document, key=keys.read))
    assert error["message"].startswith("Syntax Error"), error
    assert error["locations"] == [{"line": line, "column": column}]


@pytest.mark.parametrize(
    ("document", "message", "column"),
    [
        ("{ nope }", "Cannot query field 'nope' on type 'Query'.", 3),
        ("{ runs { edges { nope } } }", "Cannot query field 'nope' on type 'RunNodeEdge'.", 18),
        ("{ runs(limit: 5) { totalCount } }", "Unknown argument 'limit' on field 'Query.runs'.", 8),
        ("{ runs }", "Field 'runs' of type 'RunConnection!' must have a selection", 3),
        ("{ run { id } }", "Argument 'Query.run(id:)' of type 'ID!' is required", 3),
        ('{ compileSpec(text: "x", engine: RUST) { ok } }', "Value 'RUST' does not exist", 34),
        ("{ __typename @nope }", "Unknown directive '@nope'.", 14),
        ("mutation { nope }", "Cannot query field 'nope' on type 'Mutation'.", 12),
    ],
)
async def test_a_document_this_schema_does_not_have_is_refused_with_a_location(
    api: Api, keys: Keys, document: str, message: str, column: int
) -> None:
    error = refused(await api.gql(document, key=keys.read))
    assert error["message"].startswith(message), error
    assert error["locations"] == [{"line": 1, "column": column}]


async def test_a_literal_a_scalar_cannot_read_is_a_validation_error(
    api: Api, objects: Objects
) -> None:
    # `after` is a Long: a string there is the client's mistake, not an internal error.
    body = await api.gql('{ runLogs(runId: 1, after: "x") { lastSeq } }', key=objects.keys.read)
    error = refused(body)
    assert "Long" in error["message"] and "extensions" not in error, error
    assert error["locations"] == [{"line": 1, "column": 28}]


@pytest.mark.parametrize(
    ("document", "variables", "message"),
    [
        (
            "query($first: Int) { runs(first: $first) { totalCount } }",
            {"first": "ten"},
            "Variable '$first' has invalid value: Int cannot represent non-integer value: 'ten'",
        ),
        (
            "query($first: Int) { runs(first: $first) { totalCount } }",
            {"first": 2**40},
            "Variable '$first' has invalid value: Int cannot represent non 32-bit signed integer",
        ),
        (
            "query($id: ID!) { run(id: $id) { id } }",
            {},
            "Variable '$id' has invalid value: Expected a value of non-null type 'ID!'",
        ),
        (
            "query($id: ID!) { run(id: $id) { id } }",
            {"id": {"a": 1}},
            "Variable '$id' has invalid value: ID cannot represent value",
        ),
        (
            "query($after: Long!) { runLogs(runId: 1, after: $after) { lastSeq } }",
            {"after": "x"},
            "Variable '$after' has invalid value: Expected value of type 'Long'",
        ),
        (
            "query($f: RunFilterInput) { runs(filter: $f) { totalCount } }",
            {"f": {"statuses": ["DONE"]}},
            "Variable '$f' has invalid value at .statuses[0]: Value 'DONE' does not exist in "
            "'RunStatus' enum.",
        ),
        (
            "query($f: RunFilterInput) { runs(filter: $f) { totalCount } }",
            {"f": {"createdAfter": "yesterday"}},
            "Variable '$f' has invalid value at .createdAfter: Value cannot represent a DateTime",
        ),
        (
            "query($f: RunFilterInput) { runs(filter: $f) { totalCount } }",
            {"f": {"color": "red"}},
            "Variable '$f' has invalid value: Expected value of type 'RunFilterInput' not to include "
            "unknown field 'color'",
        ),
    ],
)
async def test_a_variable_of_the_wrong_type_is_refused(
    api: Api, keys: Keys, document: str, variables: dict[str, Any], message: str
) -> None:
    error = refused(await api.gql(document, variables, keys.read))
    assert error["message"].startswith(message), error
    assert error["locations"][0]["line"] == 1


# --- transport-level garbage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "Unable to parse request body as JSON"),
        (b'{"query": "{ __typename }"', "Unable to parse request body as JSON"),
        (b"[1, 2]", "Batching is not enabled"),
        (b'{"variables": {}}', "No GraphQL query found in the request"),
        (b'{"query": 5}', "The GraphQL operation's `query` must be a string or null"),
        (b'{"query": "{ __typename }", "variables": [1]}', "`variables` must be an object"),
    ],
    ids=["not-json", "truncated", "batch", "no-query", "query-not-string", "variables-list"],
)
async def test_a_body_that_is_not_a_graphql_request_is_400(
    api: Api, keys: Keys, body: bytes, reason: str
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.post(
            "/graphql",
            content=body,
            headers={"Authorization": f"Bearer {keys.read}", "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert reason in response.text


async def test_an_unknown_operation_name_is_400(api: Api, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.post(
            "/graphql",
            json={"query": "query A { __typename }", "operationName": "B"},
            headers={"Authorization": f"Bearer {keys.read}"},
        )
    assert response.status_code == 400
    assert 'Unknown operation named "B"' in response.text


async def test_a_mutation_over_get_is_refused(api: Api, objects: Objects) -> None:
    """GET must not change anything (a link or an image tag could send it)."""
    pause = f"mutation {{ pauseProvider(id: {objects.provider}) {{ __typename }} }}"
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.get(
            "/graphql",
            params={"query": pause},
            headers={"Authorization": f"Bearer {objects.keys.admin}"},
        )
    assert response.status_code == 400, response.text
    assert response.text == "mutations are not allowed when using GET"
    status = await api.data(
        "query($id: ID!) { provider(id: $id) { status } }",
        {"id": objects.provider},
        objects.keys.read,
    )
    assert status == {"provider": {"status": "ACTIVE"}}


@pytest.mark.parametrize(
    "document",
    ["mutation { }", "fragment F on Query { __typename } { ...F ...G }"],
    ids=["empty-selection", "unknown-fragment"],
)
async def test_a_document_that_crashes_a_validation_rule_leaks_nothing(
    api: Api, keys: Keys, document: str
) -> None:
    """Strawberry's depth limiter raises on these (max() of nothing, KeyError 'G').

    Strawberry reports an exception escaping validation outside the schema extensions; the
    view masks it like any unexpected error, so no Python message reaches the client.
    """
    response = await api.post(document, key=keys.read)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and len(body["errors"]) == 1, body
    error = body["errors"][0]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert error["message"] == f"Unexpected error; quote request id {request_id} to the operators."


def padded(size: int) -> bytes:
    """A valid request body of exactly ``size`` bytes (whitespace is neither data nor tokens)."""
    empty = json.dumps({"query": "{ __typename }"}).encode()
    body = json.dumps({"query": "{ __typename }" + " " * (size - len(empty))}).encode()
    assert len(body) == size
    return body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_size_limit_is_413(api: Api, keys: Keys, chunked: bool) -> None:
    limit = LIMITS.max_body_bytes
    headers = {"Authorization": f"Bearer {keys.read}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        at_limit = await client.post("/graphql", content=padded(limit), headers=headers)
        assert at_limit.status_code == 200, at_limit.text
        assert at_limit.json()["data"] == {"__typename": "Query"}
        over = padded(limit + 1)

        async def stream() -> Any:
            # No Content-Length: the server has to count while it reads.
            for start in range(0, len(over), 65536):
                yield over[start : start + 65536]

        response = await client.post(
            "/graphql", content=stream() if chunked else over, headers=headers
        )
    assert response.status_code == 413, response.text
    # Refused inside the request-context middleware: it has an id and the security headers.
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_oversize_body_without_a_key_is_413_too(api: Api, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            content=padded(LIMITS.max_body_bytes + 1),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413


# --- limits on the shape of a query ----------------------------------------------------------


def parents(levels: int) -> str:
    """`run { parent { … { id } } }` with ``levels`` parents: depth ``levels + 1``."""
    selection = "id"
    for _ in range(levels):
        selection = f"parent {{ {selection} }}"
    return selection


async def test_a_query_deeper_than_the_limit_is_refused(api: Api, objects: Objects) -> None:
    depth = LIMITS.max_query_depth
    # The root field is depth 0: `run` + (depth - 1) parents + `id` is exactly the limit.
    at_limit = await api.data(
        f"query Deep {{ run(id: {objects.run}) {{ {parents(depth - 1)} }} }}", key=objects.keys.read
    )
    assert at_limit == {"run": {"parent": None}}
    error = refused(
        await api.gql(
            f"query Deep {{ run(id: {objects.run}) {{ {parents(depth)} }} }}", key=objects.keys.read
        )
    )
    assert error["message"] == f"'Deep' exceeds maximum operation depth of {depth}"


async def test_depth_counts_through_fragments(api: Api, objects: Objects) -> None:
    depth = LIMITS.max_query_depth
    # Fragments each adding three levels: together beyond the limit, each alone well within it.
    fragments = "\n".join(
        f"fragment F{i} on RunNode {{ parent {{ parent {{ parent {{ ...F{i + 1} }} }} }} }}"
        for i in range(depth // 3 + 1)
    )
    last = f"fragment F{depth // 3 + 1} on RunNode {{ id }}"
    document = f"{{ run(id: {objects.run}) {{ ...F0 }} }}\n{fragments}\n{last}"
    error = refused(await api.gql(document, key=objects.keys.read))
    assert "exceeds maximum operation depth" in error["message"]


async def test_too_many_aliases_are_refused(api: Api, keys: Keys) -> None:
    limit = LIMITS.max_aliases
    aliases = " ".join(f"a{i}: __typename" for i in range(limit))
    assert len(await api.data(f"{{ {aliases} }}", key=keys.read)) == limit
    error = refused(await api.gql(f"{{ {aliases} one_more: __typename }}", key=keys.read))
    assert error["message"] == f"{limit + 1} aliases found. Allowed: {limit}"


async def test_too_many_aliases_of_an_expensive_field_run_nothing(
    api: Api, objects: Objects
) -> None:
    many = " ".join(
        f'v{i}: validateSpec(text: "x") {{ valid }}' for i in range(LIMITS.max_aliases + 1)
    )
    error = refused(await api.gql(f"{{ {many} }}", key=objects.keys.read))
    assert "aliases found" in error["message"]


def statuses_query(count: int) -> str:
    """A valid query of exactly ``count`` + 16 tokens (commas are not tokens)."""
    values = ", ".join(["QUEUED"] * count)
    return f"{{ runs(filter: {{statuses: [{values}]}}) {{ totalCount }} }}"


async def test_a_document_over_the_token_limit_is_refused(api: Api, keys: Keys) -> None:
    limit = LIMITS.max_tokens
    at_limit = await api.data(statuses_query(limit - 16), key=keys.read)
    assert at_limit == {"runs": {"totalCount": 0}}
    error = refused(await api.gql(statuses_query(limit - 15), key=keys.read))
    assert error["message"] == (
        f"Syntax Error: Document contains more than {limit} tokens. Parsing aborted."
    )


# --- page sizes and cursors ------------------------------------------------------------------


def pages(objects: Objects, first: int) -> list[tuple[str, str, list[str | int]]]:
    """(document, variables' argument name, error path) of every listing that takes `first`."""
    return [
        (f"{{ runs(first: {first}) {{ totalCount }} }}", "first", ["runs"]),
        (f"{{ providers(first: {first}) {{ edges {{ cursor }} }} }}", "first", ["providers"]),
        (
            f"{{ specVersions(providerId: {objects.provider}, first: {first}) {{ id }} }}",
            "first",
            ["specVersions"],
        ),
        (
            f"{{ runLogs(runId: {objects.run}, first: {first}) {{ lastSeq }} }}",
            "first",
            ["runLogs"],
        ),
        (
            f"{{ run(id: {objects.run}) {{ events(first: {first}) {{ lastSeq }} }} }}",
            "first",
            ["run", "events"],
        ),
    ]


@pytest.mark.parametrize("first", [LIMITS.max_page_size + 1, 10000, 0, -1])
async def test_a_page_size_out_of_range_is_bad_user_input(
    api: Api, objects: Objects, first: int
) -> None:
    for document, field, path in pages(objects, first):
        body = await api.gql(document, key=objects.keys.admin)
        error = bad_user_input(body, field)
        assert error["path"] == path, (document, error)
        assert f"got {first}" in error["message"] and "`first`" in error["message"]


async def test_the_largest_page_is_allowed(api: Api, objects: Objects) -> None:
    for document, _, _ in pages(objects, LIMITS.max_page_size):
        body = await api.gql(document, key=objects.keys.admin)
        assert "errors" not in body, (document, body)


@pytest.mark.parametrize(
    "document",
    [
        "{ auditLog(first: 10000) { id } }",
        "query($p: ID!) { provider(id: $p) { versions(first: 10000) { id } } }",
        "query($p: ID!) { provider(id: $p) { recentRuns(first: 10000) { id } } }",
    ],
    ids=["auditLog", "versions", "recentRuns"],
)
async def test_every_listing_refuses_an_oversize_page(
    api: Api, objects: Objects, document: str
) -> None:
    body = await api.gql(
        document, {"p": objects.provider} if "$p" in document else None, objects.keys.admin
    )
    bad_user_input(body, "first")


def forged(*parts: object) -> str:
    """A cursor in this API's encoding with made-up content."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def cursors(api: Api, objects: Objects) -> dict[str, str]:
    """Real cursors of the provider listing and of the run listing by creation time."""
    data = await api.data(
        "{ providers { edges { cursor } } runs { edges { cursor } } }", key=objects.keys.read
    )
    return {
        "provider": data["providers"]["edges"][0]["cursor"],
        "run": data["runs"]["edges"][0]["cursor"],
    }


@pytest.mark.parametrize(
    ("listing", "cursor"),
    [
        ("runs", "garbage"),
        ("runs", "!!!"),
        ("runs", ""),
        ("providers", "garbage"),
        ("runs", "provider"),
        ("providers", "run"),
        ("runs(sort: {field: DURATION})", "run"),
        ("runs", forged("CREATED_AT", "2026-01-01T00:00:00+00:00", "x")),
        ("runs", forged("CREATED_AT", "yesterday", 1)),
        ("runs(sort: {field: DURATION})", forged("DURATION", "long", 1)),
        ("runs", forged("CREATED_AT", "2026-01-01T00:00:00+00:00")),
    ],
    ids=[
        "garbage",
        "not-base64",
        "empty",
        "providers-garbage",
        "runs-with-a-provider-cursor",
        "providers-with-a-run-cursor",
        "other-sort-order",
        "id-not-a-number",
        "time-not-a-timestamp",
        "duration-not-a-number",
        "too-short",
    ],
)
async def test_a_cursor_not_made_for_the_listing_is_bad_user_input(
    api: Api, objects: Objects, listing: str, cursor: str
) -> None:
    real = await cursors(api, objects)
    after = real.get(cursor, cursor)
    name = listing.split("(")[0]
    selection = "totalCount" if name == "runs" else "edges { cursor }"
    if "(" in listing:
        document = f"query($a: String) {{ {listing[:-1]}, after: $a) {{ {selection} }} }}"
    else:
        document = f"query($a: String) {{ {listing}(after: $a) {{ {selection} }} }}"
    error = bad_user_input(await api.gql(document, {"a": after}, objects.keys.read), "after")
    assert error["path"] == [name]


async def test_a_real_cursor_pages_on(api: Api, objects: Objects) -> None:
    real = await cursors(api, objects)
    data = await api.data(
        "query($r: String, $p: String) { runs(after: $r) { totalCount edges { cursor } } "
        "providers(after: $p) { edges { cursor } } }",
        {"r": real["run"], "p": real["provider"]},
        objects.keys.read,
    )
    assert data["runs"]["edges"] == [] and data["providers"]["edges"] == []


# --- ids, arguments and mutation inputs ------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{ run(id: "abc") { id } }', "id"),
        ('{ provider(id: "abc") { id } }', "id"),
        ('{ specVersions(providerId: "abc") { id } }', "providerId"),
        ('{ runs(filter: {providerIds: ["1", "abc"]}) { totalCount } }', "providerIds"),
        pytest.param(
            '{ runLogs(runId: "abc") { lastSeq } }',
            "runId",
        ),
        pytest.param(
            '{ specDiff(from: "abc", to: "1") { unified } }',
            "from",
        ),
    ],
)
async def test_an_id_that_is_not_a_number_is_bad_user_input(
    api: Api, keys: Keys, document: str, field: str
) -> None:
    bad_user_input(await api.gql(document, key=keys.read), field)


@pytest.mark.parametrize("field", ["run", "provider"])
async def test_an_id_beyond_bigint_is_bad_user_input(api: Api, keys: Keys, field: str) -> None:
    bad_user_input(await api.gql(f'{{ {field}(id: "{2**63}") {{ id }} }}', key=keys.read), "id")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("{ dashboard(days: 0) { successRate } }", "days"),
        ("{ dashboard(days: 91) { successRate } }", "days"),
        ("query($r: ID!) { runLogs(runId: $r, after: -1) { lastSeq } }", "after"),
        ("query($r: ID!) { run(id: $r) { events(after: -1) { lastSeq } } }", "after"),
    ],
)
async def test_an_argument_out_of_range_is_bad_user_input(
    api: Api, objects: Objects, document: str, field: str
) -> None:
    variables = {"r": objects.run} if "$r" in document else None
    bad_user_input(await api.gql(document, variables, objects.keys.read), field)


CREATE = """
mutation($spec: String!) {
  createProvider(spec: $spec) {
    __typename
    ... on SpecInvalid { message issues { code severity line column path message hint } }
    ... on Problem { message }
  }
}
"""


@pytest.mark.parametrize(
    ("replace", "code", "line", "column", "path"),
    [
        (
            {"  base_url: https://api.polygon.io\n": "  base_url: 12\n"},
            "UIS-E042",
            15,
            13,
            "provider.base_url",
        ),
        ({"  owner: data-platform\n": "  owner: [data-platform\n"}, "UIS-E001", 20, 7, ""),
        (
            {'  schedule_cron: "0 18 * * 1-5"\n': '  schedule_cron: "every day"\n'},
            "UIS-E044",
            22,
            18,
            "provider.schedule_cron",
        ),
        (
            {"  schedule_timezone: America/New_York\n": "  schedule_timezone: Mars/Olympus\n"},
            "UIS-E045",
            23,
            22,
            "provider.schedule_timezone",
        ),
        (
            {"      pagination: cursor\n": "      pagination: sideways\n"},
            "UIS-E022",
            48,
            19,
            "provider.endpoints[0].pagination",
        ),
        ({'version: "1.2"': 'version: "9.9"'}, "UIS-E024", 4, 10, "version"),
    ],
    ids=["not-a-url", "yaml-syntax", "cron", "time-zone", "pagination", "version"],
)
async def test_an_invalid_spec_is_spec_invalid_with_positions(
    api: Api,
    keys: Keys,
    replace: dict[str, str],
    code: str,
    line: int,
    column: int,
    path: str,
) -> None:
    result = (await api.data(CREATE, {"spec": spec_for(name="bad", **replace)}, keys.write))[
        "createProvider"
    ]
    assert result["__typename"] == "SpecInvalid", result
    assert result["message"] == "the spec has 1 error(s)"
    [issue] = result["issues"]
    assert (issue["code"], issue["line"], issue["column"], issue["path"]) == (
        code,
        line,
        column,
        path,
    )
    assert issue["severity"] == "error" and issue["message"]
    # Nothing was saved.
    assert (await api.data("{ providers { edges { cursor } } }", key=keys.read)) == {
        "providers": {"edges": []}
    }


async def test_an_empty_spec_is_spec_invalid(api: Api, keys: Keys) -> None:
    result = (await api.data(CREATE, {"spec": ""}, keys.write))["createProvider"]
    assert result["__typename"] == "SpecInvalid" and result["issues"], result
    assert all(issue["line"] >= 1 and issue["column"] >= 1 for issue in result["issues"])


PROBLEMS = "... on InvalidInput { field message } ... on Problem { message }"
#: The Polygon example with one more query parameter that nothing in the spec defines.
NEEDS_EXCHANGE = {"        sort: asc\n": '        sort: asc\n        exchange: "{{ exchange }}"\n'}


async def needs_a_parameter(api: Api, keys: Keys) -> str:
    saved = (
        await api.data(
            "mutation($s: String!) { createProvider(spec: $s) "
            "{ __typename ... on ProviderSaved { provider { id } } } }",
            {"s": spec_for(name="exchange", **NEEDS_EXCHANGE)},
            keys.write,
        )
    )["createProvider"]
    assert saved["__typename"] == "ProviderSaved", saved
    return str(saved["provider"]["id"])


async def test_a_missing_run_parameter_is_invalid_input(api: Api, keys: Keys) -> None:
    provider = await needs_a_parameter(api, keys)
    trigger = (
        "mutation($p: ID!, $params: JSON) { triggerRun(providerId: $p, parameters: $params) "
        f"{{ __typename {PROBLEMS} ... on RunQueued {{ run {{ parameters }} }} }} }}"
    )
    for parameters in (None, {}, {"ticker": "AAPL"}):
        result = (await api.data(trigger, {"p": provider, "params": parameters}, keys.run))[
            "triggerRun"
        ]
        assert result["__typename"] == "InvalidInput", result
        assert result["field"] == "parameters" and "exchange" in result["message"]
    given = (await api.data(trigger, {"p": provider, "params": {"exchange": "XNAS"}}, keys.run))[
        "triggerRun"
    ]
    assert given == {"__typename": "RunQueued", "run": {"parameters": {"exchange": "XNAS"}}}


async def test_a_backfill_without_its_run_parameter_is_invalid_input(api: Api, keys: Keys) -> None:
    provider = await needs_a_parameter(api, keys)
    result = (
        await api.data(
            'mutation($p: ID!) { backfill(providerId: $p, from: "2026-01-01", '
            f'to: "2026-01-02") {{ __typename {PROBLEMS} }} }}',
            {"p": provider},
            keys.run,
        )
    )["backfill"]
    assert result["__typename"] == "InvalidInput" and result["field"] == "parameters", result
    assert (await api.data("{ runs { totalCount } }", key=keys.read))["runs"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("arguments", "field", "says"),
    [
        ('from: "2026-01-10", to: "2026-01-01"', "to", "before `from`"),
        ('from: "2026-01-01", to: "2026-01-02", chunkDays: 0', "chunkDays", "at least 1"),
        ('from: "2026-01-01", to: "2026-01-02", chunkDays: -3', "chunkDays", "at least 1"),
        ('from: "2000-01-01", to: "2026-01-01", chunkDays: 1', "chunkDays", "the limit is"),
    ],
    ids=["to-before-from", "chunk-zero", "chunk-negative", "too-many-runs"],
)
async def test_a_backfill_window_out_of_range_is_invalid_input(
    api: Api, objects: Objects, arguments: str, field: str, says: str
) -> None:
    result = (
        await api.data(
            f"mutation($p: ID!) {{ backfill(providerId: $p, {arguments}) "
            f"{{ __typename {PROBLEMS} }} }}",
            {"p": objects.provider},
            objects.keys.run,
        )
    )["backfill"]
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == field and says in result["message"]
    # The queued run of the fixture is the only one.
    assert (await api.data("{ runs { totalCount } }", key=objects.keys.read))["runs"] == {
        "totalCount": 1
    }


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ("triggerRun(providerId: $id)", "providerId"),
        ('backfill(providerId: $id, from: "2026-01-01", to: "2026-01-01")', "providerId"),
        pytest.param("cancelRun(runId: $id)", "runId"),
        pytest.param("retryRun(runId: $id)", "runId"),
        pytest.param('updateProvider(id: $id, spec: "x")', "id"),
        pytest.param("pauseProvider(id: $id)", "id"),
        pytest.param("resumeProvider(id: $id)", "id"),
        pytest.param("deleteProvider(id: $id)", "id"),
        pytest.param("revokeApiKey(id: $id)", "id"),
    ],
)
async def test_a_mutation_id_that_is_not_a_number_is_invalid_input(
    api: Api, keys: Keys, mutation: str, field: str
) -> None:
    name = mutation.split("(")[0]
    body = await api.data(
        f"mutation($id: ID!) {{ {mutation} {{ __typename ... on InvalidInput {{ field }} }} }}",
        {"id": "abc"},
        keys.admin,
    )
    assert body[name] == {"__typename": "InvalidInput", "field": field}


async def test_a_non_numeric_id_never_reaches_the_client_as_a_python_error(
    api: Api, keys: Keys
) -> None:
    """Whatever the result type, no mutation answers a bad id with an exception's text."""
    for mutation in ("cancelRun(runId: $id)", "pauseProvider(id: $id)", "revokeApiKey(id: $id)"):
        body = await api.gql(
            f"mutation($id: ID!) {{ {mutation} {{ __typename }} }}", {"id": "abc"}, keys.admin
        )
        for error in body.get("errors", []):
            assert "UnallowedReturnType" not in error["message"], error
            assert "InvalidInput" not in error["message"], error


async def test_run_parameters_must_be_an_object(api: Api, objects: Objects) -> None:
    result = (
        await api.data(
            "mutation($p: ID!) { triggerRun(providerId: $p, parameters: [1, 2]) "
            f"{{ __typename {PROBLEMS} }} }}",
            {"p": objects.provider},
            objects.keys.run,
        )
    )["triggerRun"]
    assert result["__typename"] == "InvalidInput" and result["field"] == "parameters"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [('name: "k", scopes: []', "scopes"), ('name: "   ", scopes: [READ]', "name")],
)
async def test_an_api_key_needs_a_name_and_a_scope(
    api: Api, keys: Keys, arguments: str, field: str
) -> None:
    result = (
        await api.data(
            f"mutation {{ createApiKey({arguments}) {{ __typename {PROBLEMS} }} }}", key=keys.admin
        )
    )["createApiKey"]
    assert result["__typename"] == "InvalidInput" and result["field"] == field, result


async def test_a_subscription_over_plain_http_is_the_clients_mistake(api: Api, keys: Keys) -> None:
    refused(await api.gql("subscription { runsFeed { status } }", key=keys.read))
