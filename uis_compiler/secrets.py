"""Secret references (``env:``, ``file:``, ``vault://``) and literal-looking secrets.

Only references are ever written in a spec, stored, or compiled; the values behind them are
resolved inside a running job (see ``runner``) and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

SecretScheme = Literal["env", "file", "vault"]

_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_VAULT = re.compile(r"^vault://([^/#\s]+)/([^#\s]+?)(?:#([^#\s]+))?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

_SENSITIVE_NAME = re.compile(
    r"(auth|api[-_]?key|apikey|token|secret|password|passwd|signature|session|cookie|credential)",
    re.IGNORECASE,
)
# A value that looks like a credential: long, no spaces except after a scheme word like Bearer.
_SECRET_VALUE = re.compile(
    r"^(?:(?:bearer|basic|token|apikey)\s+)?[A-Za-z0-9_\-+/=.:~]{12,}$", re.I
)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A parsed secret reference."""

    scheme: SecretScheme
    #: env: the variable name; file: the path; vault: ``MOUNT/PATH``.
    location: str
    #: vault only: the key inside the KV secret; None means the whole secret (a mapping).
    key: str | None = None

    @property
    def mount(self) -> str:
        return self.location.split("/", 1)[0]

    @property
    def secret_path(self) -> str:
        return self.location.split("/", 1)[1] if "/" in self.location else ""


class SecretRefError(ValueError):
    """A malformed reference; the message says which form is expected."""


class UnknownSchemeError(SecretRefError):
    """A string that uses none of the known schemes."""


def parse_ref(text: str) -> SecretRef:
    """Parse ``env:NAME``, ``file:PATH`` or ``vault://MOUNT/PATH[#KEY]``."""
    if text.startswith("env:"):
        match = _ENV.match(text)
        if match is None:
            raise SecretRefError(
                f"`{text}`: an env reference is `env:NAME` with NAME a variable name"
            )
        return SecretRef("env", match.group(1))
    if text.startswith("file:"):
        path = text[len("file:") :]
        if not path.strip():
            raise SecretRefError(f"`{text}`: a file reference is `file:/path/to/secret`")
        return SecretRef("file", path)
    if text.startswith("vault:"):
        match = _VAULT.match(text)
        if match is None:
            raise SecretRefError(
                f"`{text}`: a Vault reference is `vault://MOUNT/PATH#KEY` (KV version 2)"
            )
        mount, path, key = match.groups()
        return SecretRef("vault", f"{mount}/{path}", key)
    scheme = _SCHEME.match(text)
    raise UnknownSchemeError(
        f"`{text}` uses the unknown scheme `{scheme.group(1)}:`"
        if scheme
        else f"`{text}` names no scheme; a reference is `env:NAME`, `file:PATH` or "
        "`vault://MOUNT/PATH#KEY`"
    )


def looks_like_secret(name: str, value: str) -> bool:
    """True for a header or parameter whose name and literal value suggest a credential."""
    if "{{" in value or not _SENSITIVE_NAME.search(name):
        return False
    return bool(_SECRET_VALUE.match(value.strip()))


#: Query parameters of connection URLs that hold a credential whatever their value looks like.
_PASSWORD_PARAM = re.compile(r"^(password|passwd|pwd|secret|token|sslpassword)$", re.IGNORECASE)


def literal_in_url(url: str) -> str | None:
    """What in ``url`` is a literal credential (user-info password, key parameter), or None."""
    text = url.strip()
    # JDBC URLs (`jdbc:postgresql://…`) nest the real URL after their prefix.
    if text.lower().startswith("jdbc:"):
        text = text[len("jdbc:") :]
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return None
    if password and "{{" not in password:
        return "a password in its user info"
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if "{{" in value:
            continue
        if _PASSWORD_PARAM.match(name) or looks_like_secret(name, value):
            return f"a literal `{name}` parameter"
    return None
