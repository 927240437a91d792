"""How the job reports progress and log lines; the control plane connects this to PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Protocol, TextIO

from runner.ingest.secrets import Redactor

#: The stages of one run, in order (runner.ingest.job runs them).
STAGES = ("prepare", "fetch", "transform", "check", "commit", "lineage")


class Reporter(Protocol):
    """Receives a run's stages, progress and log lines (already redacted).

    Stages come in the order of ``STAGES``; the first one means the run is RUNNING.
    """

    def stage(self, name: str) -> None: ...

    def progress(self, metrics: Mapping[str, float]) -> None: ...

    def log(self, level: str, message: str) -> None: ...


class PrintReporter:
    """Prints progress and logs, one line each (the standalone `headwater run-spec`)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream

    def stage(self, name: str) -> None:
        print(f"stage {name}", file=self.stream, flush=True)

    def progress(self, metrics: Mapping[str, float]) -> None:
        shown = " ".join(f"{k}={v:g}" for k, v in sorted(metrics.items()))
        print(f"progress {shown}", file=self.stream, flush=True)

    def log(self, level: str, message: str) -> None:
        print(f"{level} {message}", file=self.stream, flush=True)


class RedactingReporter:
    """Passes everything through the run's Redactor first: no secret value leaves the job."""

    def __init__(self, inner: Reporter, redact: Redactor) -> None:
        self.inner = inner
        self.redact = redact

    def stage(self, name: str) -> None:
        self.inner.stage(name)

    def progress(self, metrics: Mapping[str, float]) -> None:
        self.inner.progress(metrics)

    def log(self, level: str, message: str) -> None:
        self.inner.log(level, self.redact(message))
