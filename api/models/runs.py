"""Runs, their events (status, progress, logs, metrics, quality) and quality results."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from api.models.enums import EventKind, LogLevel, RunStatus, RunTrigger
from api.models.providers import Provider, SpecVersion


class Run(Model):
    """One ingestion run of a provider's spec version; its status follows api.models.states."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="runs", on_delete=fields.RESTRICT
    )
    version: fields.ForeignKeyRelation[SpecVersion] = fields.ForeignKeyField(
        "models.SpecVersion", related_name="runs", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(RunStatus, max_length=16, default=RunStatus.QUEUED)
    trigger = fields.CharEnumField(RunTrigger, max_length=16)
    attempt = fields.IntField(default=1)
    parent: fields.ForeignKeyNullableRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    parameters: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    window_start = fields.DateField(null=True)
    window_end = fields.DateField(null=True)
    logical_date = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    duration_ms = fields.BigIntField(null=True)
    rows_read = fields.BigIntField(default=0)
    rows_written = fields.BigIntField(default=0)
    bytes_read = fields.BigIntField(default=0)
    pages = fields.BigIntField(default=0)
    requests = fields.BigIntField(default=0)
    retries = fields.BigIntField(default=0)
    error_class = fields.CharField(max_length=128, null=True)
    error_message = fields.TextField(null=True)
    snapshot_id = fields.BigIntField(null=True)
    lease_owner = fields.CharField(max_length=128, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    #: The sequence number of the run's latest event (events are numbered 1, 2, … per run).
    event_seq = fields.BigIntField(default=0)
    #: A queued retry waits for its backoff: no worker claims it before this time.
    run_after = fields.DatetimeField(null=True)
    #: The cron tick a scheduled run stands for (one run per provider and tick).
    scheduled_for = fields.DatetimeField(null=True)
    backfill: fields.ForeignKeyNullableRelation[Backfill] = fields.ForeignKeyField(
        "models.Backfill", related_name="runs", null=True, on_delete=fields.SET_NULL
    )
    #: The Spark application that ran it (its driver's id, e.g. `app-2026…` on a cluster).
    spark_app_id = fields.CharField(max_length=128, null=True)
    #: When the run began to commit: from then on it can no longer be canceled.
    commit_started_at = fields.DatetimeField(null=True)

    class Meta:
        table = "runs"


class Backfill(Model):
    """A date window ingested as chunked runs, in order, at most ``max_concurrency`` at a time."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="backfills", on_delete=fields.RESTRICT
    )
    version: fields.ForeignKeyRelation[SpecVersion] = fields.ForeignKeyField(
        "models.SpecVersion", related_name="backfills", on_delete=fields.RESTRICT
    )
    window_start = fields.DateField()
    window_end = fields.DateField()
    chunk_days = fields.IntField()
    max_concurrency = fields.IntField(default=1)
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    canceled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "backfills"


class RunEvent(Model):
    """One ordered event of a run: a status change, progress, a log line, a metric, a check."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="events", on_delete=fields.CASCADE
    )
    seq = fields.BigIntField()
    at = fields.DatetimeField(auto_now_add=True)
    kind = fields.CharEnumField(EventKind, max_length=16)
    level = fields.CharEnumField(LogLevel, max_length=16, default=LogLevel.INFO)
    message = fields.TextField(default="")
    payload: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "run_events"
        unique_together = (("run", "seq"),)


class QualityResult(Model):
    """The outcome of one quality check of a run."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="quality_results", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=256)
    kind = fields.CharField(max_length=32)
    passed = fields.BooleanField()
    observed = fields.FloatField(null=True)
    threshold = fields.FloatField(null=True)
    details: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "quality_results"
