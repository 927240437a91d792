"""Secret references resolved inside the job (env:, file:, a Vault KV v2 server of ours), redaction."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paged_api import compile_plan, spec_text
from pydantic import SecretStr

from runner.ingest.exceptions import SecretUnavailableError
from runner.ingest.job import resolve_secrets
from runner.ingest.secrets import MASK, Redactor, SecretValue, VaultConfig, resolve
from runner.ingest.templates import Filler
from standins.vault import Vault, serve_in_thread
from uis_compiler.grants import Grants, TenantGrant

VAULT_TOKEN = "hvs.vault-token-3c1d9e"
VALUES: dict[tuple[str, str], dict[str, Any]] = {
    ("secret", "polygon"): {"api_key": "pk-live-4b2a9c", "user": "ingest", "port": 5432},
    ("kv", "team/payments/api"): {"client_id": "cid-81f0", "client_secret": "csec-5e7d2a"},
}
#: Every value a test resolves: no error message may contain one.
ALL_VALUES = {str(v) for secret in VALUES.values() for v in secret.values()} | {VAULT_TOKEN}


@pytest.fixture(scope="module")
def vault_server() -> Iterator[tuple[str, Vault]]:
    vault = Vault(VAULT_TOKEN, VALUES)
    with serve_in_thread(vault) as url:
        yield url, vault


@pytest.fixture
def grant(tmp_path: Path) -> TenantGrant:
    """A grant as wide as these tests need: HW_ variables, tmp_path, every Vault path."""
    return TenantGrant(
        env_prefixes=("HW_",),
        env_names=frozenset({"OTHER"}),
        secrets_dir=str(tmp_path),
        vault_prefix="",
    )


@pytest.fixture
def vault(vault_server: tuple[str, Vault]) -> VaultConfig:
    return VaultConfig(
        address=vault_server[0] + "/", token=SecretStr(VAULT_TOKEN), timeout_seconds=5
    )


def test_env_plain_and_json_object(monkeypatch: pytest.MonkeyPatch, grant: TenantGrant) -> None:
    monkeypatch.setenv("HW_PLAIN", "  pk-live-4b2a9c\n")
    monkeypatch.setenv("HW_OBJECT", json.dumps({"username": "ingest", "port": 5432}))
    monkeypatch.setenv("HW_BRACE", "{not json")
    assert resolve("env:HW_PLAIN", grant) == "pk-live-4b2a9c"
    assert resolve("env:HW_OBJECT", grant) == {"username": "ingest", "port": "5432"}
    # A value that only starts like JSON is kept as text.
    assert resolve("env:HW_BRACE", grant) == "{not json"
    assert resolve("env:OTHER", grant, environ={"OTHER": "from-mapping"}) == "from-mapping"


def test_file_plain_and_json_object(tmp_path: Path, grant: TenantGrant) -> None:
    plain = tmp_path / "key"
    plain.write_text("pk-live-4b2a9c\n")
    structured = tmp_path / "db.json"
    structured.write_text(json.dumps({"username": "ingest", "password": "pw-9d8c7b"}, indent=2))
    assert resolve(f"file:{plain}", grant) == "pk-live-4b2a9c"
    # A relative name is taken from the tenant's directory.
    assert resolve("file:db.json", grant) == {"username": "ingest", "password": "pw-9d8c7b"}


def test_vault_whole_secret_and_one_key(
    vault: VaultConfig, vault_server: tuple[str, Vault], grant: TenantGrant
) -> None:
    assert resolve("vault://secret/polygon", grant, vault=vault) == {
        "api_key": "pk-live-4b2a9c",
        "user": "ingest",
        "port": "5432",
    }
    assert resolve("vault://secret/polygon#api_key", grant, vault=vault) == "pk-live-4b2a9c"
    # A nested path: the mount is the first segment only.
    assert (
        resolve("vault://kv/team/payments/api#client_secret", grant, vault=vault) == "csec-5e7d2a"
    )
    assert set(vault_server[1].tokens_seen[-3:]) == {VAULT_TOKEN}


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


ERRORS = [
    ("env:HW_UNSET_VARIABLE", "the variable HW_UNSET_VARIABLE is not set"),
    ("env:not a name", "an env reference is `env:NAME`"),
    ("file:nonexistent/secret", "No such file or directory"),
    ("file:", "a file reference is `file:/path/to/secret`"),
    ("vault://secret", "a Vault reference is `vault://MOUNT/PATH#KEY`"),
    ("ssm://param/name", "unknown scheme `ssm:`"),
    ("pk-live-4b2a9c", "names no scheme"),
    ("vault://secret/polygon#password", "the secret has no key `password`"),
    ("vault://secret/missing#api_key", "Vault answered 404"),
    ("vault://html/page#api_key", "not a Vault KV version 2 answer"),
    ("vault://odd/null-data", "no KV version 2 data at that path"),
    ("vault://odd/kv1", "no KV version 2 data at that path"),
    ("vault://odd/list", "not a Vault KV version 2 answer"),
]


@pytest.mark.parametrize(("reference", "fragment"), ERRORS)
def test_errors_name_the_reference_never_a_value(
    vault: VaultConfig,
    grant: TenantGrant,
    monkeypatch: pytest.MonkeyPatch,
    reference: str,
    fragment: str,
) -> None:
    monkeypatch.delenv("HW_UNSET_VARIABLE", raising=False)
    with pytest.raises(SecretUnavailableError) as raised:
        resolve(reference, grant, vault=vault)
    message = str(raised.value)
    assert fragment in message
    leaked = {value for value in ALL_VALUES if value in message and value not in reference}
    assert leaked == set()


def test_a_wrong_vault_token_is_403_and_the_token_is_not_echoed(
    vault_server: tuple[str, Vault], grant: TenantGrant
) -> None:
    wrong = VaultConfig(address=vault_server[0], token=SecretStr("hvs.wrong-token-0000"))
    with pytest.raises(SecretUnavailableError, match="Vault answered 403") as raised:
        resolve("vault://secret/polygon#api_key", grant, vault=wrong)
    assert vault_server[1].tokens_seen[-1] == "hvs.wrong-token-0000"
    assert "hvs.wrong-token-0000" not in str(raised.value)
    assert "`vault://secret/polygon#api_key`" in str(raised.value)


def test_vault_unreachable_or_unconfigured(grant: TenantGrant) -> None:
    down = VaultConfig(address=f"http://127.0.0.1:{refused_port()}", token=SecretStr(VAULT_TOKEN))
    with pytest.raises(SecretUnavailableError, match=r"Vault is unreachable \(ConnectError\)"):
        resolve("vault://secret/polygon#api_key", grant, vault=down)
    with pytest.raises(SecretUnavailableError, match="no Vault address is configured"):
        resolve("vault://secret/polygon#api_key", grant)


def test_the_job_resolves_every_secret_and_redacts_them(
    vault: VaultConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, grant: TenantGrant
) -> None:
    password = tmp_path / "password"
    password.write_text("pw-9d8c7b\n")
    monkeypatch.setenv("HW_TOKEN", "tok-61a0f3")
    references = {
        "tenant": "env:HW_TOKEN",
        "password": f"file:{password}",
        "api_key": "vault://secret/polygon#api_key",
    }
    text = spec_text(
        "https://api.example.com",
        {"name": "items", "path": "/items", "headers": {"X-Tenant": "{{ secrets.tenant }}"}},
        {"credentials_ref": "vault://kv/team/payments/api"},
        {"global_config": {"secrets": references}},
    )
    grants = Grants(tenants={"default": grant})
    plan = compile_plan(text, grants=grants)
    assert set(plan.secrets) == {"credentials", "tenant", "password", "api_key"}
    secrets, redact = resolve_secrets(plan, vault, grants)
    assert secrets == {
        "credentials": {"client_id": "cid-81f0", "client_secret": "csec-5e7d2a"},
        "tenant": "tok-61a0f3",
        "password": "pw-9d8c7b",
        "api_key": "pk-live-4b2a9c",
    }
    # The plan holds references only; the values are in the job's memory and its Redactor.
    assert not any(value in plan.model_dump_json() for value in ALL_VALUES | {"tok-61a0f3"})
    line = "cid-81f0 csec-5e7d2a tok-61a0f3 pw-9d8c7b pk-live-4b2a9c"
    assert redact(line) == " ".join([MASK] * 5)


def test_redactor_masks_nested_payloads() -> None:
    redact = Redactor()
    redact.add({"username": "ingest-user", "password": "pw-9d8c7b"})
    redact.add("tok-61a0f3")
    payload = {
        "message": "login ingest-user/pw-9d8c7b failed",
        "attempts": 3,
        "ok": False,
        "none": None,
        "events": [{"header": "Bearer tok-61a0f3"}, ["pw-9d8c7b", 1.5]],
    }
    assert redact.deep(payload) == {
        "message": "login ***/*** failed",
        "attempts": 3,
        "ok": False,
        "none": None,
        "events": [{"header": "Bearer ***"}, ["***", 1.5]],
    }
    # The input is not changed in place.
    assert payload["message"] == "login ingest-user/pw-9d8c7b failed"


def test_redactor_masks_overlapping_values_whole() -> None:
    redact = Redactor()
    # One value contains another, and two overlap: the longest match wins at each position.
    for value in ("abcd", "abcd-efgh-1234", "1234-zzzz"):
        redact.add(value)
    assert redact("key=abcd-efgh-1234;") == "key=***;"
    assert redact("abcd and abcd-efgh") == "*** and ***-efgh"
    assert "1234" not in redact("abcd-efgh-1234-zzzz")
    assert "zzzz" in redact("abcd-efgh-1234-zzzz")


def test_redactor_skips_short_values_and_escapes_patterns() -> None:
    redact = Redactor()
    redact.add("abc")
    redact.add("a.b*c+(d)")
    assert redact("abc a.b*c+(d) aXb*c+(d)") == "abc *** aXb*c+(d)"
    assert Redactor()("nothing to hide") == "nothing to hide"


FILLER_SECRETS: dict[str, SecretValue] = {"api": "k-3f9a", "db": {"user": "u", "pw": "p-7c1e"}}


@pytest.mark.parametrize(
    ("credentials", "template", "expected"),
    [
        ("k-3f9a", "{{ credentials.api_key }}", "k-3f9a"),
        ("k-3f9a", "Bearer {{ credentials.token }}", "Bearer k-3f9a"),
        ("reader:pa:ss", "{{ credentials.username }}", "reader"),
        ("reader:pa:ss", "{{ credentials.password }}", "pa:ss"),
        ({"username": "r", "password": "p"}, "{{ credentials.password }}", "p"),
        ({"client_id": "c"}, "{{ credentials.client_id }}", "c"),
        ("unused", "{{ secrets.api }}/{{ ticker }}", "k-3f9a/BRK/B"),
    ],
)
def test_filler_reads_credentials_and_secrets(
    credentials: SecretValue, template: str, expected: str
) -> None:
    filler = Filler({"ticker": "BRK/B"}, {**FILLER_SECRETS, "credentials": credentials})
    assert filler.text(template) == expected


@pytest.mark.parametrize(
    ("secrets", "template", "fragment"),
    [
        ({}, "{{ credentials.api_key }}", "credentials_ref is not set"),
        ({"credentials": {"user": "u"}}, "{{ credentials.password }}", "has no key `password`"),
        ({"credentials": "k-3f9a"}, "{{ credentials.client_id }}", "needs a JSON object"),
        ({"credentials": "no-colon"}, "{{ credentials.username }}", "needs a JSON object"),
        (FILLER_SECRETS, "{{ secrets.db }}", "holds several keys"),
        (FILLER_SECRETS, "{{ secrets.other }}", "names secret `other`, which was not resolved"),
    ],
)
def test_filler_errors_never_show_values(
    secrets: dict[str, SecretValue], template: str, fragment: str
) -> None:
    with pytest.raises(SecretUnavailableError) as raised:
        Filler({}, secrets).text(template)
    assert fragment in str(raised.value)
    assert not any(value in str(raised.value) for value in ("k-3f9a", "p-7c1e", "no-colon"))


def test_redactor_masks_encoded_and_escaped_forms() -> None:
    redact = Redactor()
    redact.add('pw/with "odd"+chars&=')
    forms = [
        'pw/with "odd"+chars&=',
        "pw%2Fwith%20%22odd%22%2Bchars%26%3D",
        "pw%2Fwith+%22odd%22%2Bchars%26%3D",
        'pw/with \\"odd\\"+chars&=',
    ]
    for form in forms:
        assert redact(f"before {form} after") == "before *** after", form
