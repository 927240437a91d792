"""Secret references and literal-looking secrets."""

from __future__ import annotations

import pytest

from uis_compiler.secrets import (
    SecretRef,
    SecretRefError,
    UnknownSchemeError,
    looks_like_secret,
    parse_ref,
)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("env:POLYGON_API_KEY", SecretRef("env", "POLYGON_API_KEY")),
        ("file:/run/secrets/polygon", SecretRef("file", "/run/secrets/polygon")),
        (
            "vault://secret/data/polygon#api_key",
            SecretRef("vault", "secret/data/polygon", "api_key"),
        ),
        ("vault://kv/polygon", SecretRef("vault", "kv/polygon")),
    ],
)
def test_references_parse(text: str, ref: SecretRef) -> None:
    assert parse_ref(text) == ref


def test_vault_parts() -> None:
    ref = parse_ref("vault://kv/teams/polygon#key")
    assert (ref.mount, ref.secret_path, ref.key) == ("kv", "teams/polygon", "key")


@pytest.mark.parametrize(
    "text", ["env:", "env:1BAD", "file:", "vault://", "vault://m", "vault://m/p#"]
)
def test_malformed_references(text: str) -> None:
    with pytest.raises(SecretRefError) as info:
        parse_ref(text)
    assert not isinstance(info.value, UnknownSchemeError)


@pytest.mark.parametrize("text", ["k8s://ns/name", "plain-name", ""])
def test_unknown_schemes(text: str) -> None:
    with pytest.raises(UnknownSchemeError):
        parse_ref(text)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer abcdef0123456789", True),
        ("X-API-Key", "9f8e7d6c5b4a3210", True),
        ("apiKey", "9f8e7d6c5b4a3210", True),
        ("Authorization", "Bearer {{ secrets.k }}", False),
        ("Accept", "application/json-very-long-value", False),
        ("X-API-Key", "short", False),
    ],
)
def test_literal_secret_detection(name: str, value: str, expected: bool) -> None:
    assert looks_like_secret(name, value) is expected
