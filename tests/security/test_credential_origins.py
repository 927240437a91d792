"""Credentials go to the spec's origin only: a hostile source naming another host in a next URL
or a redirect, or a tampered plan pointing elsewhere, gets nothing sent there.

The credential is a canary in the query (`apiKey=`), the worst place for it: whatever request
reaches the attacker's server would carry it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from attacks import CANARY, attempt, refused
from paged_api import RunningApi, Scripted, compile_plan, item, spec_text
from pyspark.sql import SparkSession

from uis_compiler.plan import SparkPlan

KEY_IN_QUERY = {"auth": "api_key", "auth_config": {"location": "query", "param_name": "apiKey"}}


@pytest.fixture(autouse=True)
def canary_key(monkeypatch: pytest.MonkeyPatch, attacker: RunningApi) -> None:
    monkeypatch.setenv("HEADWATER_SECRET_SOURCE_KEY", CANARY)
    attacker.api.reset()


def _plan(source: RunningApi, path: str, **provider: Any) -> SparkPlan:
    endpoint = {
        "name": "items",
        "path": path,
        "response_path": "$.data",
        "field_mapping": {"id": "id", "name": "name"},
        "pagination": "cursor",
        "pagination_config": {"next_url_path": "$.next_url", "max_pages": 5},
        **KEY_IN_QUERY,
    }
    extra = {"credentials_ref": "env:HEADWATER_SECRET_SOURCE_KEY", **provider}
    return compile_plan(spec_text(source.base_url, endpoint, extra))


def _script(source: RunningApi, name: str, response: Scripted) -> None:
    """Every request to /script/NAME gets ``response`` (the job samples a first page, then
    fetches it again on an executor)."""
    source.api.script(name, *[response] * 4)


def _next_to(url: str) -> Scripted:
    return Scripted(200, body=json.dumps({"data": [item(1)], "next_url": url}).encode())


def _keys_sent(server: RunningApi) -> list[str | None]:
    return [seen.query.get("apiKey") for seen in server.api.seen]


def test_a_next_url_to_another_host_is_refused(
    spark: SparkSession, source: RunningApi, attacker: RunningApi
) -> None:
    _script(source, "hostile", _next_to(f"{attacker.base_url}/records"))
    outcome = attempt(spark, _plan(source, "/script/hostile"))
    message = refused(outcome, "the response's next URL leads to http://127.0.0.1:")
    assert "allowed_origins" in message
    assert attacker.api.seen == []
    # The first page went to the source, with its key: the refusal came before the second.
    assert set(_keys_sent(source)) == {CANARY}
    assert outcome.leaked() == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused(
    spark: SparkSession, source: RunningApi, attacker: RunningApi, status: int
) -> None:
    _script(source, "moved", Scripted(status, {"location": f"{attacker.base_url}/records"}))
    outcome = attempt(spark, _plan(source, "/script/moved"))
    refused(outcome, f"a redirect ({status}) from ")
    assert attacker.api.seen == []
    assert outcome.leaked() == []


def test_a_redirect_on_the_same_origin_is_followed_with_the_key(
    spark: SparkSession, source: RunningApi
) -> None:
    """The control: a source that moved a path keeps working."""
    _script(source, "moved", Scripted(307, {"location": "/records"}))
    outcome = attempt(spark, _plan(source, "/script/moved"))
    assert outcome.error is None and outcome.result is not None, outcome.log
    assert outcome.result.rows_read == 5
    paths = [seen.path for seen in source.api.seen]
    assert paths[-2:] == ["/script/moved", "/records"] and set(paths) == {
        "/script/moved",
        "/records",
    }
    assert set(_keys_sent(source)) == {CANARY}


def test_an_origin_the_spec_allows_is_followed(
    spark: SparkSession, source: RunningApi, attacker: RunningApi
) -> None:
    """`allowed_origins` is the spec author's statement that the other host is the source's."""
    _script(source, "cdn", _next_to(f"{attacker.base_url}/records"))
    plan = _plan(source, "/script/cdn", config={"allowed_origins": [attacker.base_url]})
    outcome = attempt(spark, plan)
    assert outcome.error is None, outcome.log
    assert attacker.api.seen and set(_keys_sent(attacker)) == {CANARY}


def test_a_plan_pointed_at_another_host_sends_nothing(
    spark: SparkSession, source: RunningApi, attacker: RunningApi
) -> None:
    """A stored plan changed after validation: the job checks the URL it is handed."""
    plan = _plan(source, "/records")
    endpoint = plan.endpoints[0].model_copy(update={"url": f"{attacker.base_url}/records"})
    outcome = attempt(spark, plan.model_copy(update={"endpoints": [endpoint]}))
    refused(outcome, "the endpoint's URL leads to")
    assert attacker.api.seen == [] and source.api.seen == []


def test_a_templated_host_cannot_be_chosen_by_a_run_parameter(
    spark: SparkSession, source: RunningApi, attacker: RunningApi
) -> None:
    """Template values are percent-encoded: a parameter cannot become the URL's host."""
    plan = _plan(source, "/records")
    endpoint = plan.endpoints[0].model_copy(update={"url": "{{ target }}/records"})
    tampered = plan.model_copy(update={"endpoints": [endpoint], "parameters": ["target"]})
    outcome = attempt(spark, tampered, parameters={"target": attacker.base_url})
    refused(outcome, "is not an absolute http(s) URL")
    assert attacker.api.seen == [] and source.api.seen == []
