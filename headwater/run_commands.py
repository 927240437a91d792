"""`headwater run-spec FILE`: ingest a UIS spec end to end on this machine, without the API."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from headwater.settings import Settings
from runner.ingest.inputs import RunInputs
from runner.ingest.protocol import EXIT_TERMINAL, driver_arguments, parameter
from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.plan import SparkPlan

#: Exit status of a spec that is invalid (the job's own statuses: runner.ingest.protocol).
TERMINAL_EXIT = EXIT_TERMINAL


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


def _plan(args: argparse.Namespace) -> SparkPlan | None:
    settings = Settings()
    result = validate(Path(args.file).read_bytes(), engine="spark", grants=settings.tenant_grants())
    for issue in result.issues:
        print(f"{args.file}:{issue.line}:{issue.column}: {issue.severity.value} {issue.code} "
              f"{issue.message}", file=sys.stderr)  # fmt: skip
    if not result.valid or result.spec is None:
        return None
    return compile_spark(result.spec, settings.compile_options()).plan


def _run(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if plan is None:
        return TERMINAL_EXIT
    inputs = RunInputs.for_window(
        plan,
        args.run_id or f"cli-{os.getpid()}",
        logical_date=args.logical_date or args.end or date.today(),
        start=args.start,
        end=args.end,
        parameters=dict(args.param),
    )
    with tempfile.TemporaryDirectory(prefix="headwater-plan-") as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(plan.model_dump_json())
        if not args.submit:
            # Imported here: Spark takes a while to import, which other commands need not pay.
            from headwater import ingest_main

            return ingest_main.main(driver_arguments(str(plan_file), inputs, events=False))
        from runner.control.submit import driver_environment, submit_command

        settings = Settings()
        command = submit_command(
            plan,
            settings.compile_options(),
            plan_file,
            inputs,
            extra=settings.submit_conf(),
            events=False,
        )
        return subprocess.run(command, env=driver_environment(os.environ), check=False).returncode
