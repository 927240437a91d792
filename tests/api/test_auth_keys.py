"""API keys: hashing, verification, and tokens whose secret holds the separator."""

from __future__ import annotations

import pytest

from api.auth import authenticate, create_key, token_from_headers
from api.models import ApiKey, Scope


async def test_only_a_hash_is_stored_and_every_token_verifies(clean: str) -> None:
    # token_urlsafe secrets contain `_` and `-` about half the time: check many keys.
    for index in range(40):
        created = await create_key(f"k{index}", [Scope.READ], tenant_id=None, created_by="t")
        stored = await ApiKey.get(id=created.record.id)
        assert created.token.split("_", 2)[2] not in stored.key_hash
        principal = await authenticate(created.token)
        assert principal is not None and principal.name == f"k{index}"


@pytest.mark.parametrize(
    "token", ["", "hw_", "hw_nope_secret", "xx_abc_def", "Bearer hw_x_y", "hw_a_b_c_d"]
)
async def test_bad_tokens_are_refused(clean: str, token: str) -> None:
    assert await authenticate(token) is None


async def test_a_wrong_secret_for_a_real_prefix_is_refused(clean: str) -> None:
    created = await create_key("k", [Scope.ADMIN], tenant_id=None, created_by="t")
    prefix = created.token.split("_", 2)[1]
    assert await authenticate(f"hw_{prefix}_{'x' * 32}") is None


def test_token_from_headers() -> None:
    assert token_from_headers("Bearer abc", None) == "abc"
    assert token_from_headers("bearer  abc ", None) == "abc"
    assert token_from_headers("Basic abc", "key") == "key"
    assert token_from_headers(None, " key ") == "key"
    assert token_from_headers(None, None) is None


def test_scopes_include_lower_ones() -> None:
    from api.auth import Principal

    writer = Principal(1, "w", frozenset({Scope.WRITE}), None)
    assert writer.has(Scope.READ) and writer.has(Scope.RUN) and writer.has(Scope.WRITE)
    assert not writer.has(Scope.ADMIN)
    assert Principal(2, "t", frozenset({Scope.READ}), "acme").sees("acme")
    assert not Principal(2, "t", frozenset({Scope.READ}), "acme").sees("other")
