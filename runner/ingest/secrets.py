"""Secret references resolved inside the job, and redaction of their values from every text.

Values exist only in this process's memory while a run lasts: they are never written to the
plan, the run's events, logs or errors. Every text leaving the job passes the Redactor.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runner.ingest.exceptions import SecretUnavailableError
from uis_compiler.secrets import SecretRefError, parse_ref

#: Shorter values would redact ordinary words; no real credential is this short.
MIN_REDACTED_LENGTH = 4
MASK = "***"

SecretValue = str | dict[str, str]


@dataclass(frozen=True, slots=True)
class VaultConfig:
    """Where Vault is and how the job authenticates to it (KV version 2)."""

    address: str
    token: str
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
            url, headers={"X-Vault-Token": vault.token}, timeout=vault.timeout_seconds
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
    reference: str, *, environ: Mapping[str, str] | None = None, vault: VaultConfig | None = None
) -> SecretValue:
    """The value behind ``env:``, ``file:`` or ``vault://`` (a text, or a mapping of texts)."""
    env = os.environ if environ is None else environ
    try:
        ref = parse_ref(reference)
    except SecretRefError as exc:
        raise SecretUnavailableError(str(exc)) from exc
    if ref.scheme == "env":
        if ref.location not in env:
            raise SecretUnavailableError(f"`{reference}`: the variable {ref.location} is not set")
        return _structured(env[ref.location])
    if ref.scheme == "file":
        try:
            return _structured(Path(ref.location).read_text())
        except OSError as exc:
            raise SecretUnavailableError(f"`{reference}`: {exc.strerror}") from exc
    return _vault(reference, ref.location, ref.key, vault)


def values_of(secret: SecretValue) -> Iterable[str]:
    return secret.values() if isinstance(secret, dict) else (secret,)


@dataclass
class Redactor:
    """Replaces every known secret value in a text with ***."""

    values: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None

    def add(self, secret: SecretValue) -> None:
        for value in values_of(secret):
            if len(value) >= MIN_REDACTED_LENGTH:
                self.values.add(value)
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
