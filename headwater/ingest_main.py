"""The spark-submit application: `spark-submit … headwater/ingest_main.py --plan plan.json …`.

It is the job's composition root when it runs outside the platform's process: it reads the
HEADWATER_ settings, builds the session (joining the one spark-submit started) and runs the
same `runner.ingest.job.run_plan` as the in-process mode, so both give the same results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

# spark-submit runs this file as a script: make the project importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headwater.run_commands import TERMINAL_EXIT, parameter
from headwater.settings import Settings
from runner.ingest.exceptions import IngestError, TerminalError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import run_plan
from runner.ingest.reporting import PrintReporter
from runner.spark_session import spark_session
from uis_compiler.plan import SparkPlan

#: EX_TEMPFAIL: a scheduler may retry; TERMINAL_EXIT: it should not.
TRANSIENT_EXIT = 75


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="ingest_main", description="Run one Spark plan.")
    found.add_argument("--plan", required=True, help="the plan JSON (`headwater uis compile`)")
    found.add_argument("--run-id", default="manual")
    found.add_argument("--logical-date", type=date.fromisoformat, default=None)
    found.add_argument("--from", dest="start", type=date.fromisoformat, default=None)
    found.add_argument("--to", dest="end", type=date.fromisoformat, default=None)
    found.add_argument("--param", type=parameter, action="append", default=[])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    document = json.loads(Path(args.plan).read_text())
    # Accept the plan alone or `headwater uis compile`'s {plan, spark_submit} document.
    plan = SparkPlan.model_validate(document.get("plan", document))
    inputs = RunInputs.for_window(
        plan,
        args.run_id,
        logical_date=args.logical_date or args.end or date.today(),
        start=args.start,
        end=args.end,
        parameters=dict(args.param),
    )
    settings = Settings()
    try:
        result = run_plan(
            spark_session(settings.data_plane_config()), plan, inputs, PrintReporter()
        )
    except IngestError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return TERMINAL_EXIT if isinstance(exc, TerminalError) else TRANSIENT_EXIT
    print(json.dumps({
        "run_id": result.run_id, "rows_read": result.rows_read,
        "rows_written": result.rows_written, "snapshot_id": result.snapshot_id,
        "requests": result.stats.requests, "retries": result.stats.retries,
        "seconds": round(result.seconds, 3),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
