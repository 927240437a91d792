"""Providers over GraphQL: create, update (versions and diffs), pause, resume, delete, listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_client import Api, Keys, spec_for

from api.models import AuditEntry, Provider, SpecVersion

CREATE = """
mutation($spec: String!, $message: String) {
  createProvider(spec: $spec, message: $message) {
    __typename
    ... on ProviderSaved { provider { id name status engine scheduleCron tenantId }
                           version { id number author message engine }
                           warnings { code line } }
    ... on SpecInvalid { message issues { code line column path hint } }
    ... on Problem { message }
  }
}"""
UPDATE = """
mutation($id: ID!, $spec: String!) {
  updateProvider(id: $id, spec: $spec) {
    __typename
    ... on ProviderSaved { provider { id displayName } version { id number } }
    ... on Problem { message }
  }
}"""
CHANGE = """
mutation($id: ID!) {
  %s(id: $id) { __typename ... on ProviderChanged { provider { id status } } ... on Problem { message } }
}"""


async def create(api: Api, key: str, spec: str | None = None, **variables: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"spec": spec or spec_for(), **variables}, key)
    result: dict[str, Any] = data["createProvider"]
    return result


async def test_create_stores_version_one(api: Api, keys: Keys) -> None:
    result = await create(api, keys.write, message="first")
    assert result["__typename"] == "ProviderSaved"
    assert result["provider"] == {
        "id": "1",
        "name": "polygon",
        "status": "ACTIVE",
        "engine": "spark",
        "scheduleCron": "0 18 * * 1-5",
        "tenantId": "default",
    }
    assert result["version"] == {
        "id": "1", "number": 1, "author": "writer", "message": "first", "engine": "spark"
    }  # fmt: skip
    stored = await SpecVersion.get(id=1)
    assert stored.compiled_plan is not None
    assert stored.compiled_plan["plan"]["spec"]["name"] == "polygon_stock_daily_bars"
    assert stored.spec_parsed["provider"]["name"] == "polygon"


async def test_invalid_spec_is_refused_with_positions(api: Api, keys: Keys) -> None:
    result = await create(api, keys.write, spec_for(**{"mode: batch": "mode: batchy"}))
    assert result["__typename"] == "SpecInvalid"
    (issue,) = result["issues"]
    assert issue["code"] == "UIS-E022"
    assert issue["path"] == "provider.mode"
    assert issue["hint"] == "did you mean `batch`?"
    assert issue["line"] == 24 and issue["column"] == 9


async def test_names_are_unique_per_tenant(api: Api, keys: Keys) -> None:
    assert (await create(api, keys.write))["__typename"] == "ProviderSaved"
    assert (await create(api, keys.write))["__typename"] == "Conflict"
    assert (await create(api, keys.write, spec_for(tenant="other")))[
        "__typename"
    ] == "ProviderSaved"


async def test_update_adds_a_version_and_diff(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    changed = spec_for(
        **{"display_name: Polygon.io stock daily bars": "display_name: Polygon bars",
           "lookback_days: 5": "lookback_days: 7"}
    )  # fmt: skip
    result = (await api.data(UPDATE, {"id": "1", "spec": changed}, keys.write))["updateProvider"]
    assert result["version"]["number"] == 2
    assert result["provider"]["displayName"] == "Polygon bars"
    diff = await api.data(
        """query { specDiff(from: "1", to: "2") { unified fromVersion { number } toVersion { number }
                   changes { path before after } } }""",
        key=keys.read,
    )
    spec_diff = diff["specDiff"]
    assert (spec_diff["fromVersion"]["number"], spec_diff["toVersion"]["number"]) == (1, 2)
    assert "-    lookback_days: 5\n+    lookback_days: 7\n" in spec_diff["unified"]
    assert {"path": "provider.config.lookback_days", "before": 5, "after": 7} in spec_diff[
        "changes"
    ]
    assert {"path": "provider.display_name", "before": "Polygon.io stock daily bars",
            "after": "Polygon bars"} in spec_diff["changes"]  # fmt: skip
    versions = await api.data('{ specVersions(providerId: "1") { number } }', key=keys.read)
    assert versions["specVersions"] == [{"number": 2}, {"number": 1}]


async def test_name_and_tenant_are_fixed(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    result = await api.data(UPDATE, {"id": "1", "spec": spec_for(name="renamed")}, keys.write)
    assert result["updateProvider"]["__typename"] == "Conflict"


async def test_pause_resume_delete(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    paused = await api.data(CHANGE % "pauseProvider", {"id": "1"}, keys.write)
    assert paused["pauseProvider"]["provider"]["status"] == "PAUSED"
    detail = await api.data('{ provider(id: "1") { status nextScheduledRun } }', key=keys.read)
    assert detail["provider"] == {"status": "PAUSED", "nextScheduledRun": None}
    resumed = await api.data(CHANGE % "resumeProvider", {"id": "1"}, keys.write)
    assert resumed["resumeProvider"]["provider"]["status"] == "ACTIVE"
    deleted = await api.data(CHANGE % "deleteProvider", {"id": "1"}, keys.write)
    assert deleted["deleteProvider"]["provider"]["status"] == "DELETED"
    gone = await api.gql('{ provider(id: "1") { id } }', key=keys.read)
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    actions = [e.action for e in await AuditEntry.all().order_by("id")]
    assert actions == ["provider.create", "provider.pause", "provider.resume", "provider.delete"]


async def test_delete_refuses_with_active_runs(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    await api.data('mutation { triggerRun(providerId: "1") { __typename } }', key=keys.run)
    result = await api.data(CHANGE % "deleteProvider", {"id": "1"}, keys.write)
    assert result["deleteProvider"]["__typename"] == "Conflict"
    assert "active run" in result["deleteProvider"]["message"]


async def test_listing_filters_search_and_pages(api: Api, keys: Keys) -> None:
    for name in ("polygon", "tiingo", "alpaca"):
        await create(api, keys.write, spec_for(name=name))
    await api.data(CHANGE % "pauseProvider", {"id": "2"}, keys.write)
    query = """query($f: ProviderFilterInput, $first: Int, $after: String) {
      providers(filter: $f, first: $first, after: $after) {
        edges { cursor node { name status } } pageInfo { hasNextPage endCursor } } }"""
    page = (await api.data(query, {"first": 2}, keys.read))["providers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["alpaca", "tiingo"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await api.data(query, {"first": 2, "after": page["pageInfo"]["endCursor"]}, keys.read)
    assert [e["node"]["name"] for e in rest["providers"]["edges"]] == ["polygon"]
    assert rest["providers"]["pageInfo"]["hasNextPage"] is False
    paused = await api.data(query, {"f": {"statuses": ["PAUSED"]}}, keys.read)
    assert [e["node"]["name"] for e in paused["providers"]["edges"]] == ["tiingo"]
    # Case-insensitive, over name and display name (all three share the display name).
    found = await api.data(query, {"f": {"search": "IING"}}, keys.read)
    assert [e["node"]["name"] for e in found["providers"]["edges"]] == ["tiingo"]
    shared = await api.data(query, {"f": {"search": "stock daily"}}, keys.read)
    assert len(shared["providers"]["edges"]) == 3
    tenant = await api.data(query, {"f": {"tenant": "other"}}, keys.read)
    assert tenant["providers"]["edges"] == []
    counted = await api.data(
        "{ providers(first: 1, filter: {statuses: [ACTIVE]}) { totalCount totalCountExact } }",
        key=keys.read,
    )
    assert counted["providers"] == {"totalCount": 2, "totalCountExact": True}


async def test_deleted_providers_are_listed_only_when_asked_for(api: Api, keys: Keys) -> None:
    for name in ("polygon", "tiingo"):
        await create(api, keys.write, spec_for(name=name))
    await api.data(CHANGE % "deleteProvider", {"id": "2"}, keys.write)
    query = """query($f: ProviderFilterInput) {
      providers(filter: $f) { edges { node { name status } } totalCount } }"""
    listed = (await api.data(query, {}, keys.read))["providers"]
    assert [e["node"]["name"] for e in listed["edges"]] == ["polygon"]
    deleted = (await api.data(query, {"f": {"statuses": ["DELETED"]}}, keys.read))["providers"]
    assert deleted["edges"] == [{"node": {"name": "tiingo", "status": "DELETED"}}]
    assert deleted["totalCount"] == 1
    both = await api.data(query, {"f": {"statuses": ["ACTIVE", "DELETED"]}}, keys.read)
    assert [e["node"]["name"] for e in both["providers"]["edges"]] == ["tiingo", "polygon"]


async def test_next_run_follows_the_schedule_pause_and_resume(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    stored = await Provider.get(id=1)
    assert stored.next_run_at is not None and stored.next_run_at > datetime.now(UTC)
    await api.data(CHANGE % "pauseProvider", {"id": "1"}, keys.write)
    assert (await Provider.get(id=1)).next_run_at is None
    await api.data(CHANGE % "resumeProvider", {"id": "1"}, keys.write)
    resumed = await Provider.get(id=1)
    assert resumed.next_run_at == stored.next_run_at
    hourly = spec_for(**{'schedule_cron: "0 18 * * 1-5"': 'schedule_cron: "@hourly"'})
    await api.data(UPDATE, {"id": "1", "spec": hourly}, keys.write)
    updated = await Provider.get(id=1)
    assert updated.next_run_at is not None and updated.next_run_at.minute == 0
    assert updated.next_run_at - datetime.now(UTC) <= timedelta(hours=1)
    detail = await api.data('{ provider(id: "1") { nextScheduledRun } }', key=keys.read)
    assert datetime.fromisoformat(detail["provider"]["nextScheduledRun"]) == updated.next_run_at


async def test_detail_has_versions_runs_rate_and_schedule(api: Api, keys: Keys) -> None:
    await create(api, keys.write)
    for _ in range(3):
        await api.data('mutation { triggerRun(providerId: "1") { __typename } }', key=keys.run)
    detail = await api.data(
        """{ provider(id: "1") { name currentVersion { number } versions { number }
             recentRuns(first: 2) { id status } successRate nextScheduledRun } }""",
        key=keys.read,
    )
    provider = detail["provider"]
    assert provider["currentVersion"] == {"number": 1}
    assert provider["versions"] == [{"number": 1}]
    assert [r["id"] for r in provider["recentRuns"]] == ["3", "2"]
    assert provider["successRate"] is None
    # Weekdays 18:00 in New York, as an instant in UTC.
    assert provider["nextScheduledRun"].endswith(("22:00:00+00:00", "23:00:00+00:00"))
