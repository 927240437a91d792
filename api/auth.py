"""API keys: creation (shown once), verification by prefix + SHA-256, and the caller's rights."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from api.exceptions import ForbiddenError
from api.models import ApiKey, Scope

KEY_PREFIX = "hw"
_PREFIX_BYTES = 6
_SECRET_BYTES = 24


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's name, its scopes and (optionally) the one tenant it may see."""

    key_id: int
    name: str
    scopes: frozenset[Scope]
    tenant_id: str | None

    def has(self, scope: Scope) -> bool:
        """True when any granted scope includes ``scope`` (admin ⊃ write ⊃ run ⊃ read)."""
        return any(granted.rank >= scope.rank for granted in self.scopes)

    def sees(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id


def require_scope(principal: Principal, scope: Scope) -> None:
    """ForbiddenError unless ``principal`` holds ``scope`` (the services' one check)."""
    if not principal.has(scope):
        raise ForbiddenError(f"this needs the `{scope.value}` scope", scope.value)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key; ``token`` exists only here and is never stored."""

    record: ApiKey
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    # The secret part is URL-safe base64, which may itself contain `_`.
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    return parts[1], parts[2]


async def create_key(
    name: str, scopes: list[Scope], *, tenant_id: str | None, created_by: str
) -> NewKey:
    """Create a key; the returned token is the only copy of the secret."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    token = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    record = await ApiKey.create(
        name=name,
        prefix=prefix,
        key_hash=_hash(token),
        scopes=sorted(scope.value for scope in scopes),
        tenant_id=tenant_id,
        created_by=created_by,
    )
    return NewKey(record, token)


async def authenticate(token: str | None) -> Principal | None:
    """The principal of a valid, unrevoked key; None for anything else."""
    if not token:
        return None
    split = _split(token)
    if split is None:
        return None
    record = await ApiKey.get_or_none(prefix=split[0], revoked_at=None)
    # Compare in constant time so timing says nothing about how much of the hash matched.
    if record is None or not hmac.compare_digest(record.key_hash, _hash(token)):
        return None
    now = datetime.now(UTC)
    # Recording use at most once a minute keeps a hot key from writing on every request.
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        await ApiKey.filter(id=record.id).update(last_used_at=now)
    return Principal(
        key_id=record.id,
        name=record.name,
        scopes=frozenset(Scope(s) for s in record.scopes),
        tenant_id=record.tenant_id,
    )


async def is_active(key_id: int) -> bool:
    """True while the key exists and is not revoked (for connections that outlive a request)."""
    return await ApiKey.filter(id=key_id, revoked_at=None).exists()


def token_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer …` or `X-API-Key: …`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return api_key.strip() if api_key else None


async def revoked(key_ids: set[int]) -> set[int]:
    """Which of ``key_ids`` are revoked or gone (one query for all of a process's sockets)."""
    if not key_ids:
        return set()
    active = await ApiKey.filter(id__in=list(key_ids), revoked_at=None).values_list("id", flat=True)
    return key_ids - {int(ident) for ident in active}  # type: ignore[call-overload]
