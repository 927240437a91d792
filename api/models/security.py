"""API keys (only a hash is stored) and the audit log of every change."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class ApiKey(Model):
    """An API key: the public prefix finds it, the SHA-256 of the whole key proves it."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=128)
    prefix = fields.CharField(max_length=32, unique=True)
    key_hash = fields.CharField(max_length=64)
    scopes: fields.JSONField[list[str]] = fields.JSONField()
    tenant_id = fields.CharField(max_length=64, null=True)
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class AuditEntry(Model):
    """Who changed what, when, with the state before and after."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.CharField(max_length=128)
    tenant_id = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=64)
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
