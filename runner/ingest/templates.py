"""Plan templates filled inside the job: request variables, and secrets only here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from runner.ingest.exceptions import ParameterMissingError, SecretUnavailableError
from runner.ingest.secrets import SecretValue
from uis_compiler.templates import render

#: Keys a single-value credentials secret stands for (one token, one key).
SINGLE_VALUE_KEYS = frozenset({"api_key", "token", "access_token", "secret", "client_secret"})


@dataclass(frozen=True, slots=True)
class Filler:
    """Fills `{{ … }}` placeholders from a chain's variables and the run's resolved secrets."""

    variables: Mapping[str, str]
    secrets: Mapping[str, SecretValue]

    def lookup(self, expr: str) -> str:
        namespace, _, name = expr.partition(".")
        if namespace == "secrets" and name:
            return self._secret(name)
        if namespace == "credentials" and name:
            return self.credential(name)
        if expr not in self.variables:
            raise ParameterMissingError(f"the template variable `{expr}` has no value in this run")
        return self.variables[expr]

    def _secret(self, name: str) -> str:
        value = self.secrets.get(name)
        if value is None:
            raise SecretUnavailableError(f"the plan names secret `{name}`, which was not resolved")
        if isinstance(value, dict):
            raise SecretUnavailableError(
                f"secret `{name}` holds several keys; name one as `{{{{ secrets.{name}.KEY }}}}`"
            )
        return value

    def credential(self, key: str) -> str:
        """A key of the credentials secret (a single-value secret is its api_key/token)."""
        value = self.secrets.get("credentials")
        if value is None:
            raise SecretUnavailableError(
                "the plan uses credentials, but credentials_ref is not set"
            )
        if isinstance(value, dict):
            if key not in value:
                raise SecretUnavailableError(f"the credentials secret has no key `{key}`")
            return value[key]
        if key in SINGLE_VALUE_KEYS:
            return value
        if key in ("username", "password") and ":" in value:
            username, _, password = value.partition(":")
            return username if key == "username" else password
        raise SecretUnavailableError(
            f"the credentials secret is a single value; `{key}` needs a JSON object with that key"
        )

    def text(self, template: str) -> str:
        return render(template, self.lookup)

    def url(self, template: str) -> str:
        """A URL template: values are percent-encoded, so `BRK/B` stays one path segment."""
        return render(template, lambda expr: quote(self.lookup(expr), safe=""))
