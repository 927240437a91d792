"""Errors of the ingest job: transient ones are retried (requests, or the run), terminal ones fail now."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest error; its message is already free of secret values."""


class TransientError(IngestError):
    """Worth retrying: rate limits, 5xx, dropped connections, timeouts."""


class TerminalError(IngestError):
    """Retrying cannot help: bad credentials, a 4xx, a missing parameter, a failed check."""


class HttpTransientError(TransientError):
    """A request failed in a way that may pass on a later attempt."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HttpTerminalError(TerminalError):
    """The source refused the request for good (401, 403, 404, 422, …)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SecretUnavailableError(TerminalError):
    """A secret reference could not be resolved; the message names the reference, not a value."""


class RefusedError(TerminalError):
    """The run reached outside its grant: another origin, an ungranted secret, a foreign path."""


class ParameterMissingError(TerminalError):
    """A run parameter the spec needs was not supplied."""


class QualityFailedError(TerminalError):
    """A blocking quality check failed: nothing was committed."""


class SchemaDriftError(TerminalError):
    """The output schema drifted from the contract or the table, and the policy blocks it."""


class PlatformUnavailableError(TransientError):
    """The catalog, the object store or the cluster could not be reached for a while."""


class CommitConflictError(TransientError):
    """Another writer committed to the table first, in a way this commit cannot sit on top of."""


class UnexpectedError(TerminalError):
    """Something the job did not expect (a transform's own error, or a bug); redacted."""


class CanceledError(IngestError):
    """The run was asked to stop (by its user or its worker); nothing more is committed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the run was stopped: {reason}")
        self.reason = reason
