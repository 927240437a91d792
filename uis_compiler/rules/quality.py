"""Quality rules: schema_contract is a JSON Schema; validation rules name mapped columns."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from uis_compiler import codes
from uis_compiler.columns import TYPE_NAMES
from uis_compiler.models import Endpoint
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.suggest import did_you_mean
from uis_compiler.types import Path


def check_quality(ctx: Context) -> None:
    _contract(ctx)
    for path, endpoint in ctx.endpoints():
        if endpoint.validation_rules is not None:
            _rules(ctx, (*path, "validation_rules"), endpoint)


def _contract(ctx: Context) -> None:
    contract = ctx.spec.provider.schema_contract
    if contract is None:
        return
    path: Path = (*PROVIDER, "schema_contract")
    try:
        # The draft the contract names in `$schema`; draft-07 (the common one) when it names none.
        validator_for(contract, default=Draft7Validator).check_schema(contract)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "the top"
        ctx.report(
            codes.SCHEMA_CONTRACT_INVALID,
            (*path, *exc.path),
            f"schema_contract is not a valid JSON Schema at {where}: {exc.message}",
            "see https://json-schema.org; e.g. `{type: object, properties: {id: {type: string}}}`",
        )
        return
    if contract.get("type", "object") != "object":
        ctx.report(
            codes.SCHEMA_CONTRACT_INVALID,
            (*path, "type"),
            f"schema_contract describes one output record, so its type is `object`, "
            f"not `{contract.get('type')}`",
            "set `type: object` and list the columns under `properties`",
        )


def _rules(ctx: Context, path: Path, endpoint: Endpoint) -> None:
    rules = endpoint.validation_rules
    assert rules is not None
    columns = list(endpoint.field_mapping or {})
    named: list[tuple[Path, str]] = []
    named += [((*path, "required_fields", i), f) for i, f in enumerate(rules.required_fields or [])]
    named += [((*path, "unique", i), f) for i, f in enumerate(rules.unique or [])]
    named += [((*path, "numeric_ranges", f), f) for f in rules.numeric_ranges or {}]
    named += [((*path, "field_types", f), f) for f in rules.field_types or {}]
    if columns:
        for field_path, field in named:
            if field not in columns:
                ctx.report(
                    codes.RULE_FIELD_UNKNOWN,
                    field_path,
                    f"`{field}` is not a column of endpoint `{endpoint.name}` "
                    "(rules apply to field_mapping's output columns)",
                    did_you_mean(field, columns) or f"columns: {', '.join(columns)}",
                )
    for field, bounds in (rules.numeric_ranges or {}).items():
        problem = _range_problem(bounds)
        if problem is not None:
            ctx.report(
                codes.RANGE_INVALID,
                (*path, "numeric_ranges", field),
                f"numeric range of `{field}`: {problem}",
                "write `[min, max]`; use null for an open end, e.g. `[0, null]`",
            )
    for field, name in (rules.field_types or {}).items():
        if name.lower() not in TYPE_NAMES:
            ctx.report(
                codes.RULE_TYPE_UNKNOWN,
                (*path, "field_types", field),
                f"`{name}` is not a known type",
                did_you_mean(name, TYPE_NAMES) or f"types: {', '.join(sorted(TYPE_NAMES))}",
            )


def _range_problem(bounds: Any) -> str | None:
    if not isinstance(bounds, list) or len(bounds) != 2:
        return "expected a list of two bounds"
    low, high = bounds
    for bound in (low, high):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            return f"`{bound}` is not a number or null"
    if low is not None and high is not None and low > high:
        return f"min {low} is greater than max {high}"
    return None
