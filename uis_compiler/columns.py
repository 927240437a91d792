"""Column types: from schema_contract (JSON Schema) and validation_rules names to one vocabulary.

The vocabulary is the one the Spark plan uses: string, long, double, boolean, date, timestamp.
"""

from __future__ import annotations

from typing import Any, Literal

ColumnType = Literal["string", "long", "double", "boolean", "date", "timestamp"]

#: The SQL name of each column type, as Spark (and Iceberg, and SeaTunnel's schemas) spell it.
SQL_TYPES: dict[ColumnType, str] = {
    "string": "string",
    "long": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}

#: Type names accepted in ``validation_rules.field_types`` (JSON Schema and SQL spellings).
TYPE_NAMES: dict[str, ColumnType] = {
    "string": "string",
    "str": "string",
    "text": "string",
    "integer": "long",
    "int": "long",
    "long": "long",
    "bigint": "long",
    "number": "double",
    "float": "double",
    "double": "double",
    "decimal": "double",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "datetime": "timestamp",
    "date-time": "timestamp",
}


def _json_type(spec: dict[str, Any]) -> ColumnType:
    raw = spec.get("type", "string")
    types = [t for t in raw if t != "null"] if isinstance(raw, list) else [raw]
    kind = types[0] if types else "string"
    if kind == "string":
        fmt = spec.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "timestamp"
        return "string"
    return TYPE_NAMES.get(str(kind), "string")


def contract_columns(contract: dict[str, Any] | None) -> dict[str, ColumnType]:
    """Column → type declared by a schema_contract (properties of an object schema)."""
    if not contract:
        return {}
    properties = contract.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        str(name): _json_type(spec) if isinstance(spec, dict) else "string"
        for name, spec in properties.items()
    }


def contract_required(contract: dict[str, Any] | None) -> list[str]:
    required = (contract or {}).get("required")
    return [str(name) for name in required] if isinstance(required, list) else []
