"""A spec reads no secret outside its tenant's grant: not a platform setting, not a file outside
its directory (however a symlink points), not another tenant's Vault path.

Each reference is tried twice: through the API (refused in validation, nothing stored) and as a
tampered stored plan handed to the real job (refused before anything is read or sent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, Keys, spec_for
from attacks import CANARY, attempt, refused
from paged_api import ITEMS_ENDPOINT, RunningApi, compile_plan, spec_text
from pydantic import SecretStr
from pyspark.sql import SparkSession

from runner.ingest.job import JobConfig
from runner.ingest.secrets import VaultConfig
from standins.vault import Vault, serve_in_thread
from uis_compiler.grants import Grants
from uis_compiler.plan import SparkPlan

CREATE = """mutation($spec: String!) { createProvider(spec: $spec) {
  __typename ... on SpecInvalid { issues { code path message } } } }"""
VALIDATE = """query($text: String!) { validateSpec(text: $text) { valid issues { code path } } }"""
PROVIDERS = "{ providers(first: 50) { edges { node { name } } } }"
VAULT_TOKEN = "hvs.attack-suite-51c9"

ATTACKS = [
    pytest.param("env:HEADWATER_S3_SECRET_KEY", "is a platform setting", id="platform-setting"),
    pytest.param("env:HOME", "not granted to this tenant", id="other-variable"),
    pytest.param("file:/proc/self/environ", "outside the tenant's secrets", id="proc-environ"),
    pytest.param("file:../other/token", "climbs out with `..`", id="dot-dot"),
    pytest.param("vault://secret/other/polygon#api_key", "Vault prefix", id="other-tenant-vault"),
]


@pytest.mark.parametrize(("reference", "fragment"), ATTACKS)
async def test_the_api_refuses_a_reference_outside_the_grant(
    api: Api, keys: Keys, reference: str, fragment: str
) -> None:
    text = spec_for(**{"credentials_ref: env:POLYGON_API_KEY": f"credentials_ref: {reference}"})
    saved = (await api.data(CREATE, {"spec": text}, keys.write))["createProvider"]
    assert saved["__typename"] == "SpecInvalid", saved
    issue = next(i for i in saved["issues"] if i["code"] == "UIS-E078")
    assert issue["path"] == "provider.credentials_ref" and fragment in issue["message"]
    checked = (await api.data(VALIDATE, {"text": text}, keys.read))["validateSpec"]
    assert not checked["valid"] and "UIS-E078" in {i["code"] for i in checked["issues"]}
    assert (await api.data(PROVIDERS, {}, keys.admin))["providers"]["edges"] == []


@pytest.fixture(scope="module")
def vault() -> Iterator[tuple[VaultConfig, Vault]]:
    """A Vault holding the canary under another tenant's prefix, and one granted secret."""
    keeper = Vault(
        VAULT_TOKEN,
        {("secret", "other/polygon"): {"api_key": CANARY}, ("secret", "default/ok"): {"k": "v"}},
    )
    with serve_in_thread(keeper) as url:
        yield VaultConfig(url, SecretStr(VAULT_TOKEN), timeout_seconds=5), keeper


@pytest.fixture
def secrets_root(tmp_path: Path) -> Path:
    """Tenant directories: `other` holds a canary; `default` holds links that lead out."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "token").write_text(CANARY)
    mine = tmp_path / "default"
    mine.mkdir()
    (mine / "granted").write_text("granted-value-0b7e")
    os.symlink("/proc/self/environ", mine / "environ")
    os.symlink(tmp_path / "other" / "token", mine / "neighbour")
    os.symlink("../other", mine / "shared")
    return tmp_path


def _tampered(source: RunningApi, reference: str) -> SparkPlan:
    """A valid plan whose stored credentials_ref was changed after validation."""
    endpoint = {**ITEMS_ENDPOINT, "auth": "bearer"}
    text = spec_text(source.base_url, endpoint, {"credentials_ref": "env:HEADWATER_SECRET_X"})
    plan = compile_plan(text)
    return plan.model_copy(update={"secrets": {**plan.secrets, "credentials": reference}})


JOB_ATTACKS = [
    *ATTACKS,
    # Names inside the tenant's directory that validation cannot see through.
    pytest.param("file:environ", "leads outside the tenant's secrets", id="symlink-to-proc"),
    pytest.param("file:neighbour", "leads outside the tenant's secrets", id="symlink-to-other"),
    pytest.param("file:shared/token", "leads outside the tenant's secrets", id="linked-dir"),
]


@pytest.mark.parametrize(("reference", "fragment"), JOB_ATTACKS)
def test_the_job_refuses_a_tampered_plan_before_reading(
    spark: SparkSession,
    source: RunningApi,
    vault: tuple[VaultConfig, Vault],
    secrets_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
    fragment: str,
) -> None:
    # The canary is a platform setting in the job's own environment.
    monkeypatch.setenv("HEADWATER_S3_SECRET_KEY", CANARY)
    config, keeper = vault
    seen_before = len(keeper.tokens_seen)
    grants = Grants(secrets_root=str(secrets_root))
    outcome = attempt(spark, _tampered(source, reference), JobConfig(vault=config, grants=grants))
    refused(outcome, fragment)
    assert outcome.leaked() == []
    assert source.api.seen == [], "a request was sent although a secret was refused"
    assert len(keeper.tokens_seen) == seen_before, "Vault was asked for a refused path"


def test_granted_references_still_resolve(
    spark: SparkSession,
    source: RunningApi,
    vault: tuple[VaultConfig, Vault],
    secrets_root: Path,
) -> None:
    """The control: the same job reads what the grant covers, and sends it to the source."""
    config, _ = vault
    grants = Grants(secrets_root=str(secrets_root))
    for reference, value in (
        ("file:granted", "granted-value-0b7e"),
        ("vault://secret/default/ok#k", "v"),
    ):
        source.api.reset()
        outcome = attempt(
            spark, _tampered(source, reference), JobConfig(vault=config, grants=grants)
        )
        assert outcome.error is None, outcome.log
        headers: list[dict[str, Any]] = [seen.headers for seen in source.api.seen]
        assert {h.get("authorization") for h in headers} == {f"Bearer {value}"}
