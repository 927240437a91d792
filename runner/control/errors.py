"""Why runs fail: the `error_class` a run records, and whether a new attempt may help.

Each error of the ingest job (runner.ingest.exceptions) maps to one class here; the worker adds
its own (a lost worker or driver, a timeout, an unreadable plan). Transient classes are retried
with backoff up to the spec's attempts; terminal ones and user cancels never are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorClass:
    """A stable failure class, as stored in `runs.error_class`."""

    name: str
    transient: bool
    description: str


_CLASSES = (
    ErrorClass("http_transient", True, "the source kept answering 429/5xx or dropping requests"),
    ErrorClass("http_terminal", False, "the source refused the request (401, 403, 404, …)"),
    ErrorClass("secret_unavailable", False, "a secret reference could not be resolved"),
    ErrorClass("refused", False, "the run reached outside what its tenant is granted"),
    ErrorClass("parameter_missing", False, "a run parameter the spec needs was not given"),
    ErrorClass("quality_failed", False, "a blocking quality check failed; nothing committed"),
    ErrorClass("schema_drift", False, "the rows drifted from the contract or the table"),
    ErrorClass("platform_unavailable", True, "the catalog, object store or cluster was away"),
    ErrorClass("commit_conflict", True, "another writer committed to the table first"),
    ErrorClass("transient", True, "a failure that may pass on a later attempt"),
    ErrorClass("terminal", False, "a failure that another attempt cannot fix"),
    ErrorClass("unexpected", False, "an error the job did not expect (see the run's log)"),
    ErrorClass("invalid_plan", False, "the stored plan could not be read or run"),
    ErrorClass("worker_lost", True, "the run's worker stopped renewing its lease"),
    ErrorClass("driver_lost", True, "the Spark driver ended without a result"),
    ErrorClass("worker_shutdown", True, "the worker was shut down before the run finished"),
    ErrorClass("start_timeout", True, "the run did not start within the start timeout"),
    ErrorClass("timed_out", False, "the run took longer than its max runtime"),
)
CLASSES: dict[str, ErrorClass] = {c.name: c for c in _CLASSES}

#: The ingest job's exception names → error classes (a test checks every exception has one).
BY_EXCEPTION: dict[str, str] = {
    "HttpTransientError": "http_transient",
    "HttpTerminalError": "http_terminal",
    "SecretUnavailableError": "secret_unavailable",
    "RefusedError": "refused",
    "ParameterMissingError": "parameter_missing",
    "QualityFailedError": "quality_failed",
    "SchemaDriftError": "schema_drift",
    "PlatformUnavailableError": "platform_unavailable",
    "CommitConflictError": "commit_conflict",
    "UnexpectedError": "unexpected",
    "TransientError": "transient",
    "TerminalError": "terminal",
    "IngestError": "unexpected",
}


def of_exception(name: str) -> ErrorClass:
    """The class of a job error by its exception name (unknown names are unexpected)."""
    return CLASSES[BY_EXCEPTION.get(name, "unexpected")]
