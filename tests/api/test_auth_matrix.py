"""Who may call what: every root field, mutation and subscription, by every kind of caller.

The rows are checked against the schema, so an operation added without a row fails here. Each
row is run with no key, a key one scope too low, the lowest key that suffices (not bound to a
tenant), an admin key of the objects' own tenant, and an admin key of another tenant (which must
see nothing of tenant `default`: NotFound / NOT_FOUND, or absent from lists).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import graphql
import httpx
import pytest
from api_client import Api, GraphQLSocket, Keys, post_graphql, spec_for
from tortoise import connections
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.auth import create_key
from api.config import ApiConfig
from api.models import AuditEntry, Run, RunStatus, Scope
from api.schema import build_schema

# --- the world every row runs against --------------------------------------------------------

#: Every result union has Forbidden and some Problem (not all have NotFound).
PROBLEM = """
    ... on Problem { message }
    ... on Forbidden { requiredScope }
"""
CREATE_PROVIDER = f"""
mutation($spec: String!) {{
  createProvider(spec: $spec) {{
    __typename
    ... on ProviderSaved {{ provider {{ id name tenantId status }} version {{ id number }} }}
    {PROBLEM}
  }}
}}
"""
UPDATE_PROVIDER = f"""
mutation($id: ID!, $spec: String!) {{
  updateProvider(id: $id, spec: $spec) {{
    __typename
    ... on ProviderSaved {{ provider {{ id }} version {{ id number }} }}
    {PROBLEM}
  }}
}}
"""
PROVIDER_CHANGE = """
mutation($id: ID!) {{
  {field}(id: $id) {{
    __typename
    ... on ProviderChanged {{ provider {{ id status }} }}
    {problem}
  }}
}}
"""
TRIGGER_RUN = f"""
mutation($id: ID!) {{
  triggerRun(providerId: $id) {{
    __typename
    ... on RunQueued {{ run {{ id status tenantId provider {{ id }} }} }}
    {PROBLEM}
  }}
}}
"""
CREATE_API_KEY = f"""
mutation($name: String!, $tenant: String) {{
  createApiKey(name: $name, scopes: [READ], tenantId: $tenant) {{
    __typename
    ... on ApiKeyCreated {{ token key {{ id name tenantId scopes }} }}
    {PROBLEM}
  }}
}}
"""
REVOKE_API_KEY = f"""
mutation($id: ID!) {{
  revokeApiKey(id: $id) {{
    __typename
    ... on ApiKeyRevoked {{ key {{ id revokedAt }} }}
    {PROBLEM}
  }}
}}
"""
BACKFILL = f"""
mutation($id: ID!) {{
  backfill(providerId: $id, from: "2025-06-02", to: "2025-06-02") {{
    __typename ... on BackfillQueued {{ backfill {{ id }} runs {{ id }} }} {PROBLEM}
  }}
}}
"""
#: A second version of the Polygon example (same provider, another description).
EDITED = {
    "  description: Aggregates (bars) endpoint, one day per bar, split-adjusted.\n": (
        "  description: Aggregates endpoint, edited.\n"
    )
}
LOG_LINE = "hello from the runner"


@dataclass(frozen=True)
class World:
    """Objects of tenant `default` (made with its admin) and of tenant `other`."""

    keys: Keys
    #: A key with no scope at all: the only key that lacks `read`.
    no_scope: str
    #: polygon (tenant default): versions 1 and 2, runs `queued` and `failed`.
    provider: str
    version_1: str
    version_2: str
    #: idle (tenant default): paused, no runs.
    idle: str
    queued: str
    failed: str
    #: polygon of tenant `other`, with one queued run.
    other_provider: str
    other_run: str
    #: A read key of tenant `default`, to be revoked.
    victim_key: str
    #: A one-chunk backfill of polygon, and its run (queued).
    backfill: str
    backfill_run: str

    def token(self, scope: Scope) -> str:
        return {
            Scope.READ: self.keys.read,
            Scope.RUN: self.keys.run,
            Scope.WRITE: self.keys.write,
            Scope.ADMIN: self.keys.admin,
        }[scope]


class Client:
    """GraphQL over one keep-alive HTTP connection (Api opens a new client per request)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        key: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await post_graphql(self.http, query, variables, key, headers=headers)

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """`data` of a request that must succeed without errors."""
        response = await self.post(query, variables, key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="module")
async def client(api: Api) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        yield Client(http)


async def trigger(client: Client, provider: str, key: str) -> str:
    result = (await client.data(TRIGGER_RUN, {"id": provider}, key))["triggerRun"]
    assert result["__typename"] == "RunQueued", result
    return str(result["run"]["id"])


async def mutate(
    client: Client, document: str, variables: dict[str, Any], key: str
) -> dict[str, Any]:
    """The one result of a mutation that must succeed (not be a Problem)."""
    (result,) = (await client.data(document, variables, key)).values()
    assert "message" not in result, result
    return result  # type: ignore[no-any-return]


async def build_world(client: Client, keys: Keys) -> World:
    """The objects every row needs, made through the API (statuses the runner sets: the ORM)."""
    owner = keys.tenant_admin
    # Independent requests go together: the world is built once per test (~130 times).
    polygon, idle, other, victim = await asyncio.gather(
        mutate(client, CREATE_PROVIDER, {"spec": spec_for()}, owner),
        mutate(client, CREATE_PROVIDER, {"spec": spec_for(name="idle")}, owner),
        mutate(client, CREATE_PROVIDER, {"spec": spec_for(tenant="other")}, keys.other_admin),
        mutate(client, CREATE_API_KEY, {"name": "victim", "tenant": "default"}, owner),
    )
    provider_id = polygon["provider"]["id"]
    pause = PROVIDER_CHANGE.format(field="pauseProvider", problem=PROBLEM)
    edited, _, queued, failed, other_run = await asyncio.gather(
        mutate(client, UPDATE_PROVIDER, {"id": provider_id, "spec": spec_for(**EDITED)}, owner),
        mutate(client, pause, {"id": idle["provider"]["id"]}, owner),
        trigger(client, provider_id, owner),
        trigger(client, provider_id, owner),
        trigger(client, other["provider"]["id"], keys.other_admin),
    )
    # A worker would do this: claim the run, then fail it.
    for status in (RunStatus.STARTING, RunStatus.FAILED):
        await Run.filter(id=int(failed)).update(status=status)
    await connections.get("default").execute_query(
        "INSERT INTO run_events (run_id, kind, level, message) VALUES ($1, 'LOG', 'INFO', $2)",
        [int(queued), LOG_LINE],
    )
    backfill = await mutate(client, BACKFILL, {"id": provider_id}, owner)
    no_scope = await create_key("no-scope", [], tenant_id=None, created_by="tests")
    return World(
        keys=keys,
        no_scope=no_scope.token,
        provider=provider_id,
        version_1=polygon["version"]["id"],
        version_2=edited["version"]["id"],
        idle=idle["provider"]["id"],
        queued=queued,
        failed=failed,
        other_provider=other["provider"]["id"],
        other_run=other_run,
        victim_key=victim["key"]["id"],
        backfill=backfill["backfill"]["id"],
        backfill_run=backfill["runs"][0]["id"],
    )


@pytest.fixture
async def world(client: Client, keys: Keys) -> World:
    return await build_world(client, keys)


T = TypeVar("T")

# --- the rows --------------------------------------------------------------------------------

#: None: a key of no tenant (sees all); otherwise the key's tenant.
Tenant = str | None
Check = Callable[[dict[str, Any], World, Tenant], None]
#: How a key of tenant `other` is answered: the object does not exist for it ("hidden"), the
#: change is refused ("forbidden"), or it gets its own tenant's view ("scoped": `check` runs).
OtherTenant = Literal["hidden", "forbidden", "scoped"]


@dataclass(frozen=True)
class Row:
    document: str
    scope: Scope
    check: Check
    other: OtherTenant
    variables: Callable[[World], dict[str, Any]] = field(default=lambda world: {})
    #: Mutations: the audit action a success writes.
    audit: str | None = None


def visible(tenant: Tenant, default: set[T], other: set[T]) -> set[T]:
    """Which of tenant default's and tenant other's objects a key of ``tenant`` sees."""
    return {None: default | other, "default": default, "other": other}[tenant]


def check_providers(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    found = {edge["node"]["id"] for edge in data["providers"]["edges"]}
    assert found == visible(tenant, {world.provider, world.idle}, {world.other_provider})


def check_provider(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert data["provider"] == {"id": world.provider, "name": "polygon", "tenantId": "default"}


def check_spec_versions(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert [v["id"] for v in data["specVersions"]] == [world.version_2, world.version_1]


def check_spec_diff(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    diff = data["specDiff"]
    assert (diff["fromVersion"]["number"], diff["toVersion"]["number"]) == (1, 2)
    assert [change["path"] for change in diff["changes"]] == ["provider.description"]


def check_runs(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    found = {edge["node"]["id"] for edge in data["runs"]["edges"]}
    expected = visible(tenant, {world.queued, world.failed, world.backfill_run}, {world.other_run})
    assert found == expected
    assert data["runs"]["totalCount"] == len(expected)


def check_run(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert data["run"] == {"id": world.queued, "status": "QUEUED"}


def check_run_logs(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert [event["message"] for event in data["runLogs"]["events"]] == [LOG_LINE]


def check_validate_spec(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert data["validateSpec"] == {"valid": True, "issues": []}


def check_compile_spec(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert data["compileSpec"]["ok"] is True
    assert "polygon" in data["compileSpec"]["output"]


def check_dashboard(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    counts: dict[str, int] = {}
    for day in data["dashboard"]["days"]:
        for entry in day["byStatus"]:
            counts[entry["status"]] = counts.get(entry["status"], 0) + entry["count"]
    failing = {item["provider"]["id"] for item in data["dashboard"]["failingProviders"]}
    expected = {
        None: ({"QUEUED": 3, "FAILED": 1}, {world.provider}),
        "default": ({"QUEUED": 2, "FAILED": 1}, {world.provider}),
        "other": ({"QUEUED": 1}, set()),
    }[tenant]
    assert (counts, failing) == expected


def check_backfill(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    group = data["backfill"]
    assert group["id"] == world.backfill and group["status"] == "QUEUED"
    assert group["progress"] == {"total": 1, "queued": 1}
    assert [run["id"] for run in group["runs"]] == [world.backfill_run]


def check_backfills(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert [group["id"] for group in data["backfills"]] == [world.backfill]


def check_api_keys(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    found = {(key["name"], key["tenantId"]) for key in data["apiKeys"]}
    default = {("tenant-admin", "default"), ("victim", "default")}
    other = {("other-admin", "other")}
    unbound = {(name, None) for name in ("reader", "runner", "writer", "admin", "no-scope")}
    assert found == {None: default | other | unbound, "default": default, "other": other}[tenant]


def check_audit_log(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    targets = {(e["targetType"], e["targetId"]) for e in data["auditLog"]}
    default = {
        ("provider", world.provider),
        ("provider", world.idle),
        ("run", world.queued),
        ("run", world.failed),
        ("api_key", world.victim_key),
    }
    other = {("provider", world.other_provider), ("run", world.other_run)}
    # Entries are the actor's tenant's: the world's changes were made by tenant-bound admins.
    assert targets == visible(tenant, default, other)


def result_of(name: str, typename: str, check: Callable[[dict[str, Any], World], None]) -> Check:
    """A mutation check: the result is ``typename`` and passes ``check``."""

    def run(data: dict[str, Any], world: World, tenant: Tenant) -> None:
        result = data[name]
        assert result["__typename"] == typename, result
        check(result, world)

    return run


def created_provider(result: dict[str, Any], world: World) -> None:
    assert result["provider"]["name"] == "fresh" and result["version"]["number"] == 1


def updated_provider(result: dict[str, Any], world: World) -> None:
    assert result["provider"]["id"] == world.provider and result["version"]["number"] == 3


def provider_status(ident: Callable[[World], str], status: str) -> Callable[..., None]:
    def check(result: dict[str, Any], world: World) -> None:
        assert result["provider"] == {"id": ident(world), "status": status}

    return check


def queued_run(result: dict[str, Any], world: World) -> None:
    run = result["run"]
    assert run["status"] == "QUEUED" and run["provider"]["id"] == world.provider
    assert run["id"] not in (world.queued, world.failed)


def backfilled(result: dict[str, Any], world: World) -> None:
    assert result["backfill"]["maxConcurrency"] == 1
    assert [run["windowStart"] for run in result["runs"]] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]


def canceled_backfill(result: dict[str, Any], world: World) -> None:
    group = result["backfill"]
    assert group["id"] == world.backfill and group["status"] == "CANCELED"
    assert group["progress"] == {"total": 1, "canceled": 1}


def canceled(result: dict[str, Any], world: World) -> None:
    assert result["run"] == {"id": world.queued, "status": "CANCELED"}


def retried(result: dict[str, Any], world: World) -> None:
    run = result["run"]
    assert run["attempt"] == 2 and run["parent"]["id"] == world.failed and run["status"] == "QUEUED"


def created_key(result: dict[str, Any], world: World) -> None:
    assert result["token"].startswith("hw_")
    assert result["key"]["name"] == "fresh" and result["key"]["tenantId"] == "default"


def revoked_key(result: dict[str, Any], world: World) -> None:
    assert result["key"]["id"] == world.victim_key and result["key"]["revokedAt"] is not None


QUERIES: dict[str, Row] = {
    "providers": Row(
        "{ providers(first: 50) { edges { node { id } } } }",
        Scope.READ,
        check_providers,
        "scoped",
    ),
    "provider": Row(
        "query($id: ID!) { provider(id: $id) { id name tenantId } }",
        Scope.READ,
        check_provider,
        "hidden",
        lambda w: {"id": w.provider},
    ),
    "specVersions": Row(
        "query($id: ID!) { specVersions(providerId: $id) { id } }",
        Scope.READ,
        check_spec_versions,
        "hidden",
        lambda w: {"id": w.provider},
    ),
    "specDiff": Row(
        "query($a: ID!, $b: ID!) { specDiff(from: $a, to: $b) "
        "{ fromVersion { number } toVersion { number } changes { path } } }",
        Scope.READ,
        check_spec_diff,
        "hidden",
        lambda w: {"a": w.version_1, "b": w.version_2},
    ),
    "runs": Row(
        "{ runs(first: 50) { edges { node { id } } totalCount } }",
        Scope.READ,
        check_runs,
        "scoped",
    ),
    "run": Row(
        "query($id: ID!) { run(id: $id) { id status } }",
        Scope.READ,
        check_run,
        "hidden",
        lambda w: {"id": w.queued},
    ),
    "runLogs": Row(
        "query($id: ID!) { runLogs(runId: $id) { events { message } } }",
        Scope.READ,
        check_run_logs,
        "hidden",
        lambda w: {"id": w.queued},
    ),
    "backfill": Row(
        "query($id: ID!) { backfill(id: $id) { id status progress { total queued } runs { id } } }",
        Scope.READ,
        check_backfill,
        "hidden",
        lambda w: {"id": w.backfill},
    ),
    "backfills": Row(
        "query($id: ID!) { backfills(providerId: $id) { id } }",
        Scope.READ,
        check_backfills,
        "hidden",
        lambda w: {"id": w.provider},
    ),
    "validateSpec": Row(
        "query($text: String!) { validateSpec(text: $text) { valid issues { code } } }",
        Scope.READ,
        check_validate_spec,
        "scoped",
        lambda w: {"text": spec_for()},
    ),
    "compileSpec": Row(
        "query($text: String!) { compileSpec(text: $text, engine: SPARK) { ok output } }",
        Scope.READ,
        check_compile_spec,
        "scoped",
        lambda w: {"text": spec_for()},
    ),
    "dashboard": Row(
        # Two days, so a run made just before midnight (UTC) still counts.
        "{ dashboard(days: 2) { days { byStatus { status count } } "
        "failingProviders { provider { id } } } }",
        Scope.READ,
        check_dashboard,
        "scoped",
    ),
    "apiKeys": Row("{ apiKeys { name tenantId } }", Scope.ADMIN, check_api_keys, "scoped"),
    "auditLog": Row(
        "{ auditLog(first: 200) { targetType targetId } }", Scope.ADMIN, check_audit_log, "scoped"
    ),
}

MUTATIONS: dict[str, Row] = {
    "createProvider": Row(
        CREATE_PROVIDER,
        Scope.WRITE,
        result_of("createProvider", "ProviderSaved", created_provider),
        # The key's tenant may not create in tenant `default` (and learns nothing of its names).
        "forbidden",
        lambda w: {"spec": spec_for(name="fresh")},
        audit="provider.create",
    ),
    "updateProvider": Row(
        UPDATE_PROVIDER,
        Scope.WRITE,
        result_of("updateProvider", "ProviderSaved", updated_provider),
        "hidden",
        lambda w: {"id": w.provider, "spec": spec_for()},
        audit="provider.update",
    ),
    "pauseProvider": Row(
        PROVIDER_CHANGE.format(field="pauseProvider", problem=PROBLEM),
        Scope.WRITE,
        result_of(
            "pauseProvider", "ProviderChanged", provider_status(lambda w: w.provider, "PAUSED")
        ),
        "hidden",
        lambda w: {"id": w.provider},
        audit="provider.pause",
    ),
    "resumeProvider": Row(
        PROVIDER_CHANGE.format(field="resumeProvider", problem=PROBLEM),
        Scope.WRITE,
        result_of("resumeProvider", "ProviderChanged", provider_status(lambda w: w.idle, "ACTIVE")),
        "hidden",
        lambda w: {"id": w.idle},
        audit="provider.resume",
    ),
    "deleteProvider": Row(
        PROVIDER_CHANGE.format(field="deleteProvider", problem=PROBLEM),
        Scope.WRITE,
        result_of(
            "deleteProvider", "ProviderChanged", provider_status(lambda w: w.idle, "DELETED")
        ),
        "hidden",
        lambda w: {"id": w.idle},
        audit="provider.delete",
    ),
    "triggerRun": Row(
        TRIGGER_RUN,
        Scope.RUN,
        result_of("triggerRun", "RunQueued", queued_run),
        "hidden",
        lambda w: {"id": w.provider},
        audit="run.trigger",
    ),
    "backfill": Row(
        f"""mutation($id: ID!) {{
          backfill(providerId: $id, from: "2026-01-01", to: "2026-01-03") {{
            __typename ... on BackfillQueued {{
              backfill {{ maxConcurrency }} runs {{ windowStart }}
            }} {PROBLEM}
          }}
        }}""",
        Scope.RUN,
        result_of("backfill", "BackfillQueued", backfilled),
        "hidden",
        lambda w: {"id": w.provider},
        audit="run.backfill",
    ),
    "cancelBackfill": Row(
        f"""mutation($id: ID!) {{
          cancelBackfill(id: $id) {{
            __typename ... on BackfillCanceled {{
              backfill {{ id status progress {{ total canceled }} }}
            }} {PROBLEM}
          }}
        }}""",
        Scope.RUN,
        result_of("cancelBackfill", "BackfillCanceled", canceled_backfill),
        "hidden",
        lambda w: {"id": w.backfill},
        audit="backfill.cancel",
    ),
    "cancelRun": Row(
        f"""mutation($id: ID!) {{
          cancelRun(runId: $id) {{
            __typename ... on RunCanceled {{ run {{ id status }} }} {PROBLEM}
          }}
        }}""",
        Scope.RUN,
        result_of("cancelRun", "RunCanceled", canceled),
        "hidden",
        lambda w: {"id": w.queued},
        audit="run.cancel",
    ),
    "retryRun": Row(
        f"""mutation($id: ID!) {{
          retryRun(runId: $id) {{
            __typename ... on RunQueued {{ run {{ id status attempt parent {{ id }} }} }} {PROBLEM}
          }}
        }}""",
        Scope.RUN,
        result_of("retryRun", "RunQueued", retried),
        "hidden",
        lambda w: {"id": w.failed},
        audit="run.retry",
    ),
    "createApiKey": Row(
        CREATE_API_KEY,
        Scope.ADMIN,
        result_of("createApiKey", "ApiKeyCreated", created_key),
        "forbidden",
        lambda w: {"name": "fresh", "tenant": "default"},
        audit="apikey.create",
    ),
    "revokeApiKey": Row(
        REVOKE_API_KEY,
        Scope.ADMIN,
        result_of("revokeApiKey", "ApiKeyRevoked", revoked_key),
        "hidden",
        lambda w: {"id": w.victim_key},
        audit="apikey.revoke",
    ),
}


def check_run_status(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    # The run's current status comes first, without waiting for a change.
    assert data == {"runStatus": {"runId": world.queued, "status": "QUEUED", "seq": 1}}


def check_run_events(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    assert data == {"runEvents": {"seq": 1, "kind": "STATUS", "message": "QUEUED"}}


def check_runs_feed(data: dict[str, Any], world: World, tenant: Tenant) -> None:
    # The feed got alternating changes of both tenants: each caller sees exactly its own.
    items = data["runsFeed"]
    assert all(item["status"] == "QUEUED" for item in items)
    tenants = {item["run"]["tenantId"] for item in items}
    assert tenants == visible(tenant, {"default"}, {"other"}), items


SUBSCRIPTIONS: dict[str, Row] = {
    "runStatus": Row(
        "subscription($id: ID!) { runStatus(runId: $id) { runId status seq } }",
        Scope.READ,
        check_run_status,
        "hidden",
        lambda w: {"id": w.queued},
    ),
    "runEvents": Row(
        "subscription($id: ID!) { runEvents(runId: $id) { seq kind message } }",
        Scope.READ,
        check_run_events,
        "hidden",
        lambda w: {"id": w.queued},
    ),
    "runsFeed": Row(
        "subscription { runsFeed { status run { id tenantId } } }",
        Scope.READ,
        check_runs_feed,
        "scoped",
    ),
}


def root_fields() -> dict[str, set[str]]:
    """The schema's root fields by operation type (from the code, not the committed SDL)."""
    sdl = build_schema(ApiConfig(database_url="postgres://unused@127.0.0.1/x")).as_str()
    schema = graphql.build_schema(sdl)
    roots = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }
    return {kind: set(root.fields) if root else set() for kind, root in roots.items()}


def test_every_operation_has_a_row() -> None:
    fields = root_fields()
    assert fields["query"] == set(QUERIES), "add a row to QUERIES for each new query field"
    assert fields["mutation"] == set(MUTATIONS), "add a row to MUTATIONS for each new mutation"
    assert fields["subscription"] == set(SUBSCRIPTIONS), "add a row to SUBSCRIPTIONS"


def test_the_scopes_are_the_documented_ones() -> None:
    needs = {
        name: row.scope
        for rows in (QUERIES, MUTATIONS, SUBSCRIPTIONS)
        for name, row in rows.items()
    }
    assert {name for name, scope in needs.items() if scope is Scope.RUN} == {
        "triggerRun",
        "backfill",
        "cancelBackfill",
        "cancelRun",
        "retryRun",
    }
    assert {name for name, scope in needs.items() if scope is Scope.WRITE} == {
        "createProvider",
        "updateProvider",
        "pauseProvider",
        "resumeProvider",
        "deleteProvider",
    }
    assert {name for name, scope in needs.items() if scope is Scope.ADMIN} == {
        "createApiKey",
        "revokeApiKey",
        "apiKeys",
        "auditLog",
    }


# --- running a row ---------------------------------------------------------------------------

Caller = Literal["no key", "wrong scope", "right scope", "own tenant", "other tenant"]
CALLERS: tuple[Caller, ...] = ("no key", "wrong scope", "right scope", "own tenant", "other tenant")
LOWER = {Scope.RUN: Scope.READ, Scope.WRITE: Scope.RUN, Scope.ADMIN: Scope.WRITE}


def key_of(world: World, row: Row, caller: Caller) -> tuple[str | None, Tenant]:
    """The token a caller sends, and the tenant it is bound to."""
    if caller == "no key":
        return None, None
    if caller == "wrong scope":
        return (world.no_scope if row.scope is Scope.READ else world.token(LOWER[row.scope])), None
    if caller == "right scope":
        return world.token(row.scope), None
    if caller == "own tenant":
        return world.keys.tenant_admin, "default"
    return world.keys.other_admin, "other"


async def call(
    client: Client, row: Row, world: World, key: str | None
) -> tuple[httpx.Response, str]:
    """POST the row with a fresh request id (audit rows are found by it)."""
    request_id = uuid.uuid4().hex
    response = await client.post(
        row.document, row.variables(world), key, headers={"X-Request-ID": request_id}
    )
    assert response.headers["x-request-id"] == request_id
    return response, request_id


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_query_matrix(client: Client, world: World, name: str, caller: Caller) -> None:
    row = QUERIES[name]
    key, tenant = key_of(world, row, caller)
    response, _ = await call(client, row, world, key)
    if caller == "no key":
        assert_unauthenticated(response)
        return
    assert response.status_code == 200, response.text
    body = response.json()
    if caller == "wrong scope":
        error = only_error(body)
        assert error["path"] == [name]
        assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": row.scope.value}
        return
    if caller == "other tenant" and row.other == "hidden":
        error = only_error(body)
        assert error["path"] == [name]
        assert error["extensions"]["code"] == "NOT_FOUND", error
        # The message names what was asked for, nothing about who owns it.
        assert "other" not in error["message"] and "default" not in error["message"]
        return
    assert "errors" not in body, body["errors"]
    row.check(body["data"], world, tenant)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutation_matrix(client: Client, world: World, name: str, caller: Caller) -> None:
    row = MUTATIONS[name]
    key, tenant = key_of(world, row, caller)
    response, request_id = await call(client, row, world, key)
    audited = [entry.action for entry in await AuditEntry.filter(request_id=request_id)]
    if caller == "no key":
        assert_unauthenticated(response)
        assert audited == []
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    result = body["data"][name]
    if caller == "wrong scope":
        assert result["__typename"] == "Forbidden", result
        assert result["requiredScope"] == row.scope.value
        assert audited == []
        return
    if caller == "other tenant" and row.other != "scoped":
        expected = "NotFound" if row.other == "hidden" else "Forbidden"
        assert result["__typename"] == expected, result
        assert audited == []
        return
    row.check(body["data"], world, tenant)
    # Every change is audited, with the request id the caller can quote.
    assert audited == [row.audit]


SNAPSHOT = """
query($p: ID!, $r: ID!) {
  provider(id: $p) { status currentVersion { number } }
  run(id: $r) { status }
  apiKeys { name revokedAt }
}
"""
COUNTS = "{ providers { edges { node { id } } } runs { totalCount } }"


async def test_mutations_leave_other_tenants_objects_as_they_were(
    client: Client, world: World
) -> None:
    """After every refused change by tenant `other`, tenant default's objects are unchanged."""
    before = await client.data(SNAPSHOT, {"p": world.provider, "r": world.queued}, world.keys.admin)
    for name, row in MUTATIONS.items():
        body = await client.data(row.document, row.variables(world), world.keys.other_admin)
        assert body[name]["__typename"] in ("NotFound", "Forbidden"), (name, body)
    after = await client.data(SNAPSHOT, {"p": world.provider, "r": world.queued}, world.keys.admin)
    assert after == before
    counted = await client.data(COUNTS, {}, world.keys.admin)
    assert len(counted["providers"]["edges"]) == 3 and counted["runs"]["totalCount"] == 4


# --- subscriptions ---------------------------------------------------------------------------


async def next_payload(socket: GraphQLSocket, ident: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next `next` or `error` message of operation ``ident``, as {data, errors}."""
    while True:
        message = await asyncio.wait_for(socket.receive(), timeout)
        if message["type"] in ("ping", "pong"):
            continue
        assert message.get("id") == ident, message
        if message["type"] == "error":
            return {"data": None, "errors": message["payload"]}
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        return payload


async def acknowledged(socket: GraphQLSocket) -> None:
    message = await asyncio.wait_for(socket.receive(), 10)
    assert message["type"] == "connection_ack", message


async def close_code(socket: GraphQLSocket) -> int | None:
    """The code the server closed the socket with (fails if it sends anything instead)."""
    try:
        message = await asyncio.wait_for(socket.receive(), 10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(f"expected the server to close the socket, got {message}")


async def feed(
    socket: GraphQLSocket, ident: str, poke: Callable[[], Awaitable[None]], count: int
) -> list[dict[str, Any]]:
    """``count`` items of a runs feed, poking (making status changes) until they arrive.

    The server does not say when a subscription is registered, so changes are made until the
    feed answers; once it has, every later change reaches it if the caller may see it.
    """
    items: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + 20
    while len(items) < count:
        assert asyncio.get_running_loop().time() < deadline, f"the feed sent only {items}"
        await poke()
        try:
            payload = await next_payload(socket, ident, timeout=0.5)
        except TimeoutError:
            continue
        assert "errors" not in payload, payload
        items.append(payload["data"]["runsFeed"])
    return items


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", sorted(SUBSCRIPTIONS))
async def test_subscription_matrix(
    api: Api, client: Client, world: World, name: str, caller: Caller
) -> None:
    row = SUBSCRIPTIONS[name]
    key, tenant = key_of(world, row, caller)
    async with api.websocket(key) as socket:
        if caller == "no key":
            assert await close_code(socket) == 4403
            return
        await acknowledged(socket)
        await socket.subscribe("1", row.document, row.variables(world))
        if caller == "wrong scope":
            error = only_error(await next_payload(socket, "1"))
            assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "read"}
            return
        if caller == "other tenant" and row.other == "hidden":
            error = only_error(await next_payload(socket, "1"))
            assert error["extensions"]["code"] == "NOT_FOUND", error
            return
        if name != "runsFeed":
            payload = await next_payload(socket, "1")
            assert "errors" not in payload, payload
            row.check(payload["data"], world, tenant)
            return

        async def poke() -> None:
            # One change in each tenant, tenant default's first: a leak would arrive first.
            await trigger(client, world.provider, world.keys.admin)
            await trigger(client, world.other_provider, world.keys.admin)

        # Any two items in a row span both tenants for a caller who sees both.
        row.check({"runsFeed": await feed(socket, "1", poke, 3)}, world, tenant)


# --- how keys are sent, and when they stop working -------------------------------------------


async def test_x_api_key_header_works_like_bearer(api: Api, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.post(
            "/graphql", json={"query": "{ apiKeys { name } }"}, headers={"X-API-Key": keys.admin}
        )
        assert response.status_code == 200
        assert "admin" in {key["name"] for key in response.json()["data"]["apiKeys"]}
        # The scope is the key's, whichever header carries it.
        read = await client.post(
            "/graphql", json={"query": "{ apiKeys { name } }"}, headers={"X-API-Key": keys.read}
        )
        assert read.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        metrics = await client.get("/metrics", headers={"X-API-Key": keys.read})
        assert metrics.status_code == 200


async def test_x_api_key_in_connection_init(api: Api, keys: Keys) -> None:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        socket = GraphQLSocket(ws)
        await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": keys.read}}))
        await acknowledged(socket)
        await socket.subscribe("q", "{ runs { totalCount } }")
        assert (await next_payload(socket, "q"))["data"] == {"runs": {"totalCount": 0}}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer  two words",
        "Bearer garbage",
        "Bearer hw_x_y",
        "Bearer hw_000000000000_" + "x" * 32,
        "Basic YWRtaW46YWRtaW4=",
        "hw_000000000000_" + "x" * 32,
        "\u00e9\u00e9",
    ],
)
async def test_a_garbage_authorization_header_is_401(
    api: Api, keys: Keys, authorization: str
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ runs { totalCount } }"},
            headers={b"Authorization": authorization.encode()},
        )
    assert_unauthenticated(response)


async def test_a_real_secret_with_a_wrong_prefix_or_scheme_is_401(api: Api, keys: Keys) -> None:
    prefix, secret = keys.admin.split("_", 2)[1:]
    for authorization in (
        f"Bearer hw_{prefix}_{secret}x",
        f"Bearer hw_{'0' * len(prefix)}_{secret}",
        f"Basic {keys.admin}",
    ):
        response = await api.post(
            "{ runs { totalCount } }", headers={"Authorization": authorization}
        )
        assert_unauthenticated(response)


async def test_only_health_endpoints_are_open(api: Api, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/graphql", params={"query": "{ __typename }"})).status_code == 401
        # A browser asking for HTML gets the IDE page without a key, but never an answer:
        # neither with the query spelled plainly nor percent-encoded.
        html = {"Accept": "text/html"}
        for url in (
            "/graphql?query=%7B__schema%7Btypes%7Bname%7D%7D%7D",
            "/graphql?%71uery=%7B__schema%7Btypes%7Bname%7D%7D%7D",
        ):
            refused = await client.get(url, headers=html)
            assert refused.status_code == 401, refused.text
            assert "__schema" not in refused.text


REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"


async def test_a_revoked_key_stops_working_at_once(api: Api, keys: Keys) -> None:
    created = (await api.data(CREATE_API_KEY, {"name": "short-lived", "tenant": None}, keys.admin))[
        "createApiKey"
    ]
    token, ident = created["token"], created["key"]["id"]
    assert (await api.data("{ runs { totalCount } }", key=token)) == {"runs": {"totalCount": 0}}
    async with api.websocket(token) as before:
        await acknowledged(before)
        await before.subscribe("1", "{ __typename }")
        assert (await next_payload(before, "1"))["data"] == {"__typename": "Query"}
        revoked = await api.data(REVOKE, {"id": ident}, keys.admin)
        assert revoked["revokeApiKey"]["__typename"] == "ApiKeyRevoked"
        assert_unauthenticated(await api.post("{ runs { totalCount } }", key=token))
        # A socket opened before the revocation takes no new operation with it: it is closed
        # at this subscribe, or already by the recheck of live sockets (every 2 s).
        with contextlib.suppress(ConnectionClosed):
            await before.subscribe("2", "subscription { runsFeed { status } }")
        with contextlib.suppress(ConnectionClosed):
            message = await asyncio.wait_for(before.receive(), 10)
            # Only the end of the query answered before the revocation may still come.
            assert message == {"id": "1", "type": "complete"}
        assert await close_code(before) == 4403
    async with api.websocket(token) as after:
        assert await close_code(after) == 4403


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer hw_000000000000_" + "x" * 32},
        {"X-API-Key": "nope"},
        {"Authorization": 42},
    ],
    ids=["empty", "garbage", "unknown-key", "bad-x-api-key", "not-a-string"],
)
async def test_connection_init_without_a_valid_key_is_closed_4403(
    api: Api, keys: Keys, payload: dict[str, Any]
) -> None:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert await close_code(GraphQLSocket(ws)) == 4403


async def test_subscribing_before_connection_init_is_closed_4401(api: Api, keys: Keys) -> None:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        socket = GraphQLSocket(ws)
        await socket.subscribe("1", "subscription { runsFeed { status } }")
        assert await close_code(socket) == 4401


async def test_a_tenants_admin_sees_every_change_to_its_objects(api: Api, keys: Keys) -> None:
    created = (await api.data(CREATE_PROVIDER, {"spec": spec_for()}, keys.admin))["createProvider"]
    seen = await api.data("{ auditLog { targetType targetId } }", key=keys.tenant_admin)
    assert {"targetType": "provider", "targetId": created["provider"]["id"]} in seen["auditLog"]
