"""The spark-submit application: `spark-submit … headwater/ingest_main.py --plan plan.json …`.

It is the job's composition root when it runs outside the worker's process: it reads the
HEADWATER_ settings, builds the session (joining the one spark-submit started) with the same
job configuration as the in-process mode (`Settings.job_config`), and runs the same
`runner.ingest.job.run_plan`, so both give the same results. With `--events` it reports to the
worker that started it (runner.ingest.protocol); SIGTERM stops the run cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import FrameType

# spark-submit runs this file as a script: make the project importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headwater.settings import Settings
from runner.ingest import protocol
from runner.ingest.cancellation import Cancellation
from runner.ingest.exceptions import CanceledError, IngestError, TerminalError
from runner.ingest.inputs import RunInputs
from runner.ingest.job import run_plan
from runner.ingest.reporting import PrintReporter, Reporter
from runner.spark_session import spark_session
from uis_compiler.plan import SparkPlan


def _stop_on_sigterm(cancel: Cancellation) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        # Cancelling calls into the JVM: not from inside a signal handler, which may have
        # interrupted a call on the same gateway connection.
        threading.Thread(
            target=cancel.cancel, args=("the driver was asked to stop",), daemon=True
        ).start()

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = protocol.argument_parser().parse_args(argv)
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
        earlier_attempts=tuple(args.earlier),
    )
    settings = Settings()
    events = protocol.EventWriter() if args.events else None
    reporter: Reporter = events or PrintReporter()
    fence = (
        protocol.file_fence(Path(args.fence_dir), events)
        if events is not None and args.fence_dir
        else None
    )
    cancel = Cancellation(fence) if fence is not None else Cancellation()
    _stop_on_sigterm(cancel)
    spark = spark_session(settings.data_plane_config())
    if events is not None:
        events.emit(
            {"type": "started", "pid": os.getpid(), "app_id": spark.sparkContext.applicationId}
        )
    try:
        result = run_plan(spark, plan, inputs, reporter, settings.job_config(), cancel)
    except IngestError as exc:
        if events is not None:
            events.emit(protocol.error_event(exc))
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        if isinstance(exc, CanceledError):
            return protocol.EXIT_STOPPED
        return protocol.EXIT_TERMINAL if isinstance(exc, TerminalError) else protocol.EXIT_TRANSIENT
    summary = protocol.summary(result)
    if events is not None:
        events.emit({"type": "result", **summary})
    print(json.dumps({key: summary[key] for key in ("run_id", "rows_read", "rows_written",
                      "snapshot_id", "seconds")} | {"requests": result.stats.requests,
                      "retries": result.stats.retries}))  # fmt: skip
    return protocol.EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
