"""What compiling one spec for SeaTunnel shares: positioned issues, job variables, record shapes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from uis_compiler import codes
from uis_compiler.codes import Code
from uis_compiler.columns import SQL_TYPES, TYPE_NAMES, contract_columns
from uis_compiler.compilers.hocon import Name, Value
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.resolve import canonical, endpoint_variables, fan_out_lists
from uis_compiler.jsonpath import parse_field
from uis_compiler.models import Endpoint, Spec
from uis_compiler.source import SourceDocument
from uis_compiler.templates import VariableKind, is_single_template, render
from uis_compiler.types import Issue, Path

#: Names SeaTunnel keeps for its own placeholders; ``-i`` refuses them.
RESERVED_VARIABLES = frozenset(
    {"database_name", "schema_name", "table_name", "schema_full_name", "table_full_name",
     "primary_key", "unique_key", "field_names"}
)  # fmt: skip
_SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def endpoint_path(index: int) -> Path:
    return ("provider", "endpoints", index)


def is_sql_identifier(name: str) -> bool:
    """True for a name SeaTunnel's SQL can use unquoted (its quoting rules are not documented)."""
    return bool(_SQL_IDENTIFIER.match(name))


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Context:
    """Issues found so far and the ``-i`` variables the job needs, with a note for each."""

    doc: SourceDocument
    spec: Spec
    options: CompileOptions
    issues: list[Issue] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def report(self, code: Code, path: Path, message: str, hint: str) -> None:
        self.issues.append(self.doc.issue(code, path, message, hint))

    def unsupported(self, path: Path, message: str, hint: str) -> None:
        self.report(codes.ENGINE_FEATURE_UNSUPPORTED, path, message, hint)

    def variable(self, name: str, path: Path, note: str = "") -> str:
        """A ``${name}`` placeholder the submitter fills with ``-i name=value``."""
        if name in RESERVED_VARIABLES:
            self.unsupported(
                path,
                f"`{name}` is a placeholder SeaTunnel reserves for itself, so it cannot be "
                "passed as a job variable",
                "rename the variable",
            )
        self.variables.setdefault(name, note)
        return "${" + name + "}"

    def text(
        self, template: str, fan_out: Mapping[str, str], path: Path, *, in_url: bool = False
    ) -> str:
        """A template as SeaTunnel text: config inlined, fan-out values filled, the rest ``${…}``."""

        def one(expr: str) -> str:
            # Dots are not allowed in -i names, so namespaces become prefixes.
            for namespace in ("secrets", "credentials"):
                if expr.startswith(f"{namespace}."):
                    return self.variable(f"{namespace}_{expr.split('.', 1)[1]}", path)
            if expr in fan_out:
                # A value such as `BRK/B` must stay one path segment of the URL.
                return quote(fan_out[expr], safe="") if in_url else fan_out[expr]
            return self.variable(expr, path)

        return render(canonical(self.spec, template), one)


def fan_out_values(spec: Spec, endpoint: Endpoint) -> list[dict[str, str]]:
    """One assignment of the endpoint's fan-out variables per request chain (``[{}]`` if none)."""
    lists = fan_out_lists(spec)
    used = [
        name
        for name, kind in endpoint_variables(spec, endpoint).items()
        if kind is VariableKind.FAN_OUT
    ]
    return [
        dict(zip(used, values, strict=True))
        for values in itertools.product(*(lists[name] for name in used))
    ]


@dataclass(frozen=True, slots=True)
class Shape:
    """How one endpoint's records become the columns of its view."""

    #: What the source reads, name → SeaTunnel type: the records' top-level keys (flat mode) or,
    #: when ``paths`` is set, output columns read from paths inside a record (Http json_field).
    fields: dict[str, str]
    #: Field → keys inside one record; empty in flat mode.
    paths: dict[str, tuple[str, ...]]
    #: The FieldMapper: input field → output column, in column order.
    mapper: dict[str, str]
    #: Columns filled from one template each (e.g. the fan-out ticker), added per source.
    constants: dict[str, str]


def shape_of(spec: Spec, endpoint: Endpoint) -> Shape | None:
    """The endpoint's shape, or None when it maps no fields (the source decides what it reads)."""
    mapping = endpoint.field_mapping
    if not mapping:
        return None
    contract = contract_columns(spec.provider.schema_contract)
    rules = endpoint.validation_rules
    declared = {
        name: TYPE_NAMES[kind.lower()]
        for name, kind in ((rules.field_types if rules else None) or {}).items()
        if kind.lower() in TYPE_NAMES
    }
    kinds = {
        column: SQL_TYPES[contract.get(column) or declared.get(column) or "string"]
        for column in mapping
    }
    constants = {c: s.strip() for c, s in mapping.items() if is_single_template(s)}
    sources = {c: s for c, s in mapping.items() if c not in constants}
    keys = {column: parse_field(source) for column, source in sources.items()}
    names = list(sources.values())
    flat = (
        all(len(path) == 1 for path in keys.values())
        and len(set(names)) == len(names)
        and not set(constants) & set(names)
    )
    if flat:
        return Shape(
            fields={source: kinds[column] for column, source in sources.items()},
            paths={},
            mapper={sources.get(column, column): column for column in mapping},
            constants=constants,
        )
    return Shape(
        fields={column: kinds[column] for column in sources},
        paths=keys,
        mapper={column: column for column in mapping},
        constants=constants,
    )


def schema(shape: Shape) -> dict[str, Value]:
    """The ``schema { fields { … } }`` option of a source reading ``shape``."""
    return {"fields": {Name(name): kind for name, kind in shape.fields.items()}}


def needs_shape(ctx: Context, path: Path, endpoint: Endpoint, what: str) -> None:
    ctx.unsupported(
        path,
        f"endpoint `{endpoint.name}` has no field_mapping: {what} needs a schema of named fields",
        "add field_mapping (output column → source field)",
    )
