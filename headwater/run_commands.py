"""`headwater run-spec FILE`: ingest a UIS spec end to end on this machine, without the API."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from headwater.settings import Settings
from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark

#: Exit status of a run that failed for good (ingest_main uses 75 for a transient failure).
TERMINAL_EXIT = 1


def parameter(text: str) -> tuple[str, str]:
    """`NAME=VALUE` from the command line."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"`{text}` is not NAME=VALUE")
    return name, value


def register(commands: Any) -> None:
    run = commands.add_parser("run-spec", help="ingest a UIS spec now (Spark → Iceberg)")
    run.add_argument("file", help="the UIS document")
    run.add_argument("--param", type=parameter, action="append", default=[], metavar="K=V")
    run.add_argument("--from", dest="start", type=date.fromisoformat, help="window start")
    run.add_argument("--to", dest="end", type=date.fromisoformat, help="window end (inclusive)")
    run.add_argument("--logical-date", type=date.fromisoformat)
    run.add_argument("--run-id", default=None)
    run.add_argument(
        "--submit",
        action="store_true",
        help="run through spark-submit instead of the in-process session (same job, same result)",
    )
    run.set_defaults(handler=_run)


def _plan_text(args: argparse.Namespace) -> tuple[Any, list[str]] | None:
    result = validate(Path(args.file).read_bytes(), engine="spark")
    for issue in result.issues:
        print(f"{args.file}:{issue.line}:{issue.column}: {issue.severity.value} {issue.code} "
              f"{issue.message}", file=sys.stderr)  # fmt: skip
    if not result.valid or result.spec is None:
        return None
    compiled = compile_spark(result.spec, Settings().compile_options())
    return compiled.plan, list(compiled.submit_args)


def _run(args: argparse.Namespace) -> int:
    found = _plan_text(args)
    if found is None:
        return TERMINAL_EXIT
    plan, submit = found
    run_id = args.run_id or f"cli-{os.getpid()}"
    window = [f"--run-id={run_id}"]
    for flag, value in (
        ("--from", args.start),
        ("--to", args.end),
        ("--logical-date", args.logical_date),
    ):
        if value is not None:
            window.append(f"{flag}={value.isoformat()}")
    window += [f"--param={name}={value}" for name, value in args.param]
    with tempfile.TemporaryDirectory(prefix="headwater-plan-") as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(json.dumps(plan.model_dump(mode="json")))
        if not args.submit:
            # Imported here: Spark takes a while to import, which other commands need not pay.
            from headwater import ingest_main

            return ingest_main.main([f"--plan={plan_file}", *window])
        # The compiled argument list ends `APPLICATION --plan PATH`: this run's plan and window.
        command = [_spark_submit(), *submit[:-2], "--plan", str(plan_file), *window]
        # The driver script and the Python workers need this interpreter and its packages.
        python = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
        return subprocess.run(command, env={**os.environ, **python}, check=False).returncode


def _spark_submit() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
