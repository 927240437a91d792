"""Secret references and literal-looking secrets."""

from __future__ import annotations

import pytest

from uis_compiler.secrets import (
    SecretRef,
    SecretRefError,
    UnknownSchemeError,
    literal_in_url,
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


@pytest.mark.parametrize(
    ("url", "finding"),
    [
        ("https://user:pw-9d8c7b@api.example.com", "a password in its user info"),
        ("postgresql://ingest:pw@db:5432/marts", "a password in its user info"),
        ("jdbc:postgresql://db/marts?user=ingest&password=pw", "a literal `password` parameter"),
        ("/v2/aggs?apiKey=9f8e7d6c5b4a3210", "a literal `apiKey` parameter"),
        ("https://user@api.example.com", None),
        ("https://u:{{ secrets.pw }}@api.example.com", None),
        ("jdbc:postgresql://db/marts?user=ingest&password={{ secrets.pw }}", None),
        ("/v2/aggs?adjusted=true&limit=50000", None),
        ("s3://lake/quotes", None),
        ("http://[::1", None),
    ],
)
def test_literal_secrets_in_urls(url: str, finding: str | None) -> None:
    assert literal_in_url(url) == finding
