"""The closed vocabularies of the persistence schema, stored as text."""

from __future__ import annotations

from enum import StrEnum


class ProviderStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    DELETED = "DELETED"


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class RunTrigger(StrEnum):
    MANUAL = "MANUAL"
    SCHEDULE = "SCHEDULE"
    BACKFILL = "BACKFILL"
    RETRY = "RETRY"


class EventKind(StrEnum):
    STATUS = "STATUS"
    PROGRESS = "PROGRESS"
    LOG = "LOG"
    METRIC = "METRIC"
    QUALITY = "QUALITY"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Scope(StrEnum):
    """API key scopes; each includes the ones before it (admin ⊃ write ⊃ run ⊃ read)."""

    READ = "read"
    RUN = "run"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Scope).index(self)
