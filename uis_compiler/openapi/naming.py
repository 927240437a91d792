"""Names in the generated spec: snake_case identifiers, unique names, template variables."""

from __future__ import annotations

import re
import unicodedata

from uis_compiler.templates import CREDENTIAL_KEYS, RUN_VARIABLES

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_OTHER = re.compile(r"[^A-Za-z0-9]+")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Bare template names with a meaning of their own: a key of the credentials secret (not
#: allowed in paths) or a value of the run itself. An API parameter of that name is renamed.
_RESERVED = CREDENTIAL_KEYS | RUN_VARIABLES


def snake_case(text: str, fallback: str) -> str:
    """An ASCII snake_case identifier for ``text`` (``getHTTPStatus`` → ``get_http_status``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    spaced = _CAMEL.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", ascii_text))
    name = _OTHER.sub("_", spaced).strip("_").lower() or fallback
    # Views, columns and table names are SQL identifiers, which cannot start with a digit.
    return f"_{name}" if name[:1].isdigit() else name


def variable_name(parameter: str) -> str:
    """The ``{{ variable }}`` that carries an API parameter's value in a run."""
    name = parameter if _VARIABLE.match(parameter) else snake_case(parameter, "param")
    return f"{name}_param" if name in _RESERVED else name


class UniqueNames:
    """Hands out names, suffixing ``_2``, ``_3``… when a name is already taken."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, name: str) -> str:
        """``name``, or the first free suffixed form of it."""
        candidate, number = name, 2
        while candidate in self._taken:
            candidate, number = f"{name}_{number}", number + 1
        self._taken.add(candidate)
        return candidate
