"""Secret references resolved inside the job, and redaction of their values from every text.

Values exist only in this process's memory while a run lasts: they are never written to the
plan, the run's events, logs or errors. Every text leaving the job passes the Redactor.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
from pydantic import SecretStr

from runner.ingest.exceptions import RefusedError, SecretUnavailableError
from uis_compiler.grants import TenantGrant, within
from uis_compiler.secrets import SecretRefError, parse_ref

#: Shorter values would redact ordinary words; no real credential is this short.
MIN_REDACTED_LENGTH = 4
MASK = "***"

SecretValue = str | dict[str, str]
#: A secret file is a key or a small JSON object; anything larger is not one.
MAX_SECRET_FILE_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """Where Vault is and how the job authenticates to it (KV version 2)."""

    address: str
    token: SecretStr
    timeout_seconds: float = 10.0


def _vault(
    reference: str, location: str, key: str | None, vault: VaultConfig | None
) -> SecretValue:
    if vault is None:
        raise SecretUnavailableError(
            f"`{reference}` needs Vault, but no Vault address is configured"
        )
    mount, _, path = location.partition("/")
    url = f"{vault.address.rstrip('/')}/v1/{mount}/data/{path}"
    try:
        response = httpx.get(
            url,
            headers={"X-Vault-Token": vault.token.get_secret_value()},
            timeout=vault.timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise SecretUnavailableError(
            f"`{reference}`: Vault is unreachable ({type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        raise SecretUnavailableError(f"`{reference}`: Vault answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    # A proxy or a sign-in page at the address answers 200 too: say so, not a JSON traceback.
    if not isinstance(answer, dict):
        raise SecretUnavailableError(f"`{reference}`: not a Vault KV version 2 answer")
    envelope = answer.get("data")
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict):
        raise SecretUnavailableError(f"`{reference}`: no KV version 2 data at that path")
    values = {str(k): str(v) for k, v in data.items()}
    if key is None:
        return values
    if key not in values:
        raise SecretUnavailableError(f"`{reference}`: the secret has no key `{key}`")
    return values[key]


def _structured(text: str) -> SecretValue:
    """A JSON object in a secret is a mapping (e.g. username and password); else the text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(parsed, dict):
            return {str(k): str(v) for k, v in parsed.items()}
    return stripped


def resolve(
    reference: str,
    grant: TenantGrant,
    *,
    environ: Mapping[str, str] | None = None,
    vault: VaultConfig | None = None,
) -> SecretValue:
    """The value behind ``env:``, ``file:`` or ``vault://`` (a text, or a mapping of texts).

    Raises RefusedError, before reading anything, for a reference ``grant`` does not cover.
    """
    env = os.environ if environ is None else environ
    try:
        ref = parse_ref(reference)
    except SecretRefError as exc:
        raise SecretUnavailableError(str(exc)) from exc
    # The plan was validated against the same grant, but the job never trusts its plan.
    why = grant.refusal(ref)
    if why is not None:
        raise RefusedError(f"`{reference}`: {why}")
    if ref.scheme == "env":
        if ref.location not in env:
            raise SecretUnavailableError(f"`{reference}`: the variable {ref.location} is not set")
        return _structured(env[ref.location])
    if ref.scheme == "file":
        return _structured(_read_file(reference, grant, ref.location))
    return _vault(reference, ref.location, ref.key, vault)


def _read_file(reference: str, grant: TenantGrant, location: str) -> str:
    """A regular file inside the tenant's directory once every symlink is resolved."""
    assert grant.secrets_dir is not None
    root = os.path.realpath(grant.secrets_dir)
    path = os.path.realpath(grant.file_path(location))
    if not within(path, root):
        raise RefusedError(f"`{reference}` leads outside the tenant's secrets directory")
    try:
        # O_NOFOLLOW: a link swapped in after the check above is not followed either.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SecretUnavailableError(f"`{reference}`: {exc.strerror}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RefusedError(f"`{reference}` is not a regular file")
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise SecretUnavailableError(
                f"`{reference}` is larger than {MAX_SECRET_FILE_BYTES} bytes: not a secret"
            )
        data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise SecretUnavailableError(f"`{reference}` is not UTF-8 text") from None


def values_of(secret: SecretValue) -> Iterable[str]:
    return secret.values() if isinstance(secret, dict) else (secret,)


def _forms(value: str) -> set[str]:
    """A value as it may appear in a text: as is, URL-encoded (a query, a form) or escaped
    inside a JSON string (an echoed request, an error body)."""
    encoded = {quote(value, safe=""), quote(value), quote_plus(value)}
    return {value, *encoded, json.dumps(value)[1:-1]}


@dataclass
class Redactor:
    """Replaces every known secret value in a text with ***."""

    values: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None

    def add(self, secret: SecretValue) -> None:
        for value in values_of(secret):
            if len(value) >= MIN_REDACTED_LENGTH:
                self.values |= _forms(value)
        # Longest first, so a value containing another is masked whole.
        ordered = sorted(self.values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def deep(self, value: Any) -> Any:
        """Redact inside nested dicts and lists (event payloads)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value
