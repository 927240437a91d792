"""The persistence schema (Tortoise ORM models); the runner imports these and nothing else of api."""

from __future__ import annotations

from api.models.enums import EventKind, LogLevel, ProviderStatus, RunStatus, RunTrigger, Scope
from api.models.providers import Provider, SpecVersion
from api.models.runs import Backfill, QualityResult, Run, RunEvent
from api.models.security import ApiKey, AuditEntry

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Backfill",
    "EventKind",
    "LogLevel",
    "Provider",
    "ProviderStatus",
    "QualityResult",
    "Run",
    "RunEvent",
    "RunStatus",
    "RunTrigger",
    "Scope",
    "SpecVersion",
]
