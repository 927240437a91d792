"""`headwater uis …`: validate, compile, export the JSON Schema, import OpenAPI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from headwater.settings import Settings
from uis_compiler import ENGINES, Issue, validate
from uis_compiler.compiler import compile_result
from uis_compiler.exceptions import CompileError, OpenAPIImportError
from uis_compiler.json_schema import VERSIONS, dumps, uis_schema
from uis_compiler.openapi import import_openapi
from uis_compiler.plan import plan_schema

VALID, INVALID = 0, 1


class UsageError(Exception):
    """A command-line mistake (missing file, …): exit status 2."""


def register(commands: Any) -> None:
    uis = commands.add_parser("uis", help="work with UIS documents")
    sub = uis.add_subparsers(dest="uis_command", required=True, metavar="COMMAND")

    check = sub.add_parser("validate", help="validate a UIS document")
    check.add_argument("file", help="the document (YAML or JSON); - reads standard input")
    check.add_argument("--strict", action="store_true", help="unknown keys are errors")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--engine", choices=ENGINES, help="check for this engine")
    check.set_defaults(handler=_validate)

    build = sub.add_parser("compile", help="compile a UIS document for an engine")
    build.add_argument("file")
    build.add_argument("--engine", choices=ENGINES, required=True)
    build.add_argument("-o", "--output", help="write here instead of standard output")
    build.add_argument("--strict", action="store_true")
    build.set_defaults(handler=_compile)

    schema = sub.add_parser("schema", help="print the JSON Schema of UIS (or of the Spark plan)")
    schema.add_argument("--version", choices=VERSIONS, default="1.2")
    schema.add_argument("--plan", action="store_true", help="the Spark plan's schema instead")
    schema.set_defaults(handler=_schema)

    imp = sub.add_parser("import-openapi", help="turn an OpenAPI 3 document into a UIS spec")
    imp.add_argument("file")
    imp.add_argument("-o", "--output")
    imp.add_argument("--name", help="spec name (default: from the API title)")
    imp.add_argument("--tenant", default="default", help="provider.tenant_id")
    imp.add_argument("--owner", default="data-platform", help="provider.owner")
    imp.add_argument(
        "--include",
        action="append",
        metavar="OPERATION",
        help="only these operations (operationId, `GET /path` or a path); repeatable",
    )
    imp.set_defaults(handler=_import)


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc


def format_issue(name: str, issue: Issue) -> str:
    """`FILE:LINE:COL: SEVERITY CODE message (hint)`."""
    hint = f" ({issue.hint})" if issue.hint else ""
    return (
        f"{name}:{issue.line}:{issue.column}: {issue.severity.value} {issue.code} "
        f"{issue.message}{hint}"
    )


def _validate(args: argparse.Namespace) -> int:
    result = validate(
        _read(args.file),
        strict=args.strict,
        engine=args.engine,
        grants=Settings().tenant_grants(),
    )
    name = "<stdin>" if args.file == "-" else args.file
    if args.format == "json":
        body = {"valid": result.valid, "issues": [issue.to_dict() for issue in result.issues]}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        for issue in result.issues:
            print(format_issue(name, issue))
        if result.valid:
            print(f"{name}: valid ({len(result.issues)} warning(s))", file=sys.stderr)
    return VALID if result.valid else INVALID


def _compile(args: argparse.Namespace) -> int:
    name = "<stdin>" if args.file == "-" else args.file
    result = validate(
        _read(args.file),
        strict=args.strict,
        engine=args.engine,
        grants=Settings().tenant_grants(),
    )
    try:
        text = compile_result(result, args.engine)
    except CompileError as exc:
        for issue in exc.issues:
            print(format_issue(name, issue), file=sys.stderr)
        print(f"{name}: {exc}", file=sys.stderr)
        return INVALID
    _write(text, args.output)
    return VALID


def _schema(args: argparse.Namespace) -> int:
    print(dumps(plan_schema() if args.plan else uis_schema(args.version)), end="")
    return VALID


def _import(args: argparse.Namespace) -> int:
    try:
        text = import_openapi(
            _read(args.file),
            name=args.name,
            tenant_id=args.tenant,
            owner=args.owner,
            include=args.include,
        )
    except OpenAPIImportError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return INVALID
    _write(text, args.output)
    return VALID
