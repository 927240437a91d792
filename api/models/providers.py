"""Providers and their spec versions: every edit adds a version; runs point at the one they ran."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from api.models.enums import ProviderStatus


class Provider(Model):
    """A registered data source, described by its current spec version."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=128)
    display_name = fields.CharField(max_length=256)
    description = fields.TextField(null=True)
    owner = fields.CharField(max_length=128)
    status = fields.CharEnumField(ProviderStatus, max_length=16, default=ProviderStatus.ACTIVE)
    engine = fields.CharField(max_length=16)
    schedule_cron = fields.CharField(max_length=128, null=True)
    schedule_timezone = fields.CharField(max_length=64, default="UTC")
    current_version: fields.ForeignKeyNullableRelation[SpecVersion] = fields.ForeignKeyField(
        "models.SpecVersion", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)
    #: When the scheduler next queues a run (kept by the scheduler; None: not scheduled).
    next_run_at = fields.DatetimeField(null=True)

    class Meta:
        table = "providers"


class SpecVersion(Model):
    """One saved spec: its text, parsed form and compiled plan, by whom and when."""

    id = fields.BigIntField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="versions", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    spec_text = fields.TextField()
    spec_parsed: fields.JSONField[dict[str, Any]] = fields.JSONField()
    compiled_plan: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    engine = fields.CharField(max_length=16)
    author = fields.CharField(max_length=128)
    message = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "spec_versions"
        unique_together = (("provider", "number"),)
