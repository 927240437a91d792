"""The baseline of `make bench-runs`: the same runs, the data-plane job called in a loop."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

from headwater.settings import Settings
from runner.ingest.inputs import RunInputs
from runner.ingest.job import run_plan
from runner.spark_session import spark_session
from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark


class Quiet:
    """A Reporter that keeps nothing (the platform's reporter is what is measured)."""

    def stage(self, name: str) -> None:
        return None

    def progress(self, metrics: Mapping[str, float]) -> None:
        return None

    def log(self, level: str, message: str) -> None:
        return None


def loop(spec: str, runs: int, warm_up: int) -> float:
    """Seconds for ``runs`` runs of ``spec`` in this process, after ``warm_up`` of them."""
    settings = Settings()
    result = validate(spec)
    assert result.valid and result.spec is not None, result.errors
    plan = compile_spark(result.spec, settings.compile_options()).plan
    # A session of its own, as each worker slot has.
    session = spark_session(settings.data_plane_config()).newSession()
    config = settings.job_config()
    today = datetime.now(UTC).date()

    def once(n: int) -> None:
        inputs = RunInputs.for_window(plan, f"direct-{n}", logical_date=today)
        run_plan(session, plan, inputs, Quiet(), config)

    for n in range(warm_up):
        once(-1 - n)
    started = time.perf_counter()
    for n in range(runs):
        once(n)
    return time.perf_counter() - started
