import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from api.models.enums import EventKind, LogLevel, ProviderStatus, RunStatus, RunTrigger


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("name", fields.CharField(max_length=128)),
                ("prefix", fields.CharField(unique=True, max_length=32)),
                ("key_hash", fields.CharField(max_length=64)),
                (
                    "scopes",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("tenant_id", fields.CharField(null=True, max_length=64)),
                ("created_by", fields.CharField(max_length=128)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_keys",
                "app": "models",
                "pk_attr": "id",
                "table_description": "An API key: the public prefix finds it, the SHA-256 of the whole key proves it.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("actor", fields.CharField(max_length=128)),
                ("tenant_id", fields.CharField(null=True, max_length=64)),
                ("action", fields.CharField(max_length=64)),
                ("target_type", fields.CharField(max_length=32)),
                ("target_id", fields.CharField(max_length=64)),
                (
                    "before",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "after",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("request_id", fields.CharField(null=True, max_length=64)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_log",
                "app": "models",
                "pk_attr": "id",
                "table_description": "Who changed what, when, with the state before and after.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Provider",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("tenant_id", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=128)),
                ("display_name", fields.CharField(max_length=256)),
                ("description", fields.TextField(null=True, unique=False)),
                ("owner", fields.CharField(max_length=128)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ProviderStatus.ACTIVE,
                        description="ACTIVE: ACTIVE\nPAUSED: PAUSED\nDELETED: DELETED",
                        enum_type=ProviderStatus,
                        max_length=16,
                    ),
                ),
                ("engine", fields.CharField(max_length=16)),
                ("schedule_cron", fields.CharField(null=True, max_length=128)),
                ("schedule_timezone", fields.CharField(default="UTC", max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("deleted_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "providers",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A registered data source, described by its current spec version.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SpecVersion",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "provider",
                    fields.ForeignKeyField(
                        "models.Provider",
                        source_field="provider_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="versions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("number", fields.IntField()),
                ("spec_text", fields.TextField(unique=False)),
                (
                    "spec_parsed",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "compiled_plan",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("engine", fields.CharField(max_length=16)),
                ("author", fields.CharField(max_length=128)),
                ("message", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "spec_versions",
                "app": "models",
                "unique_together": (("provider", "number"),),
                "pk_attr": "id",
                "table_description": "One saved spec: its text, parsed form and compiled plan, by whom and when.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Run",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("tenant_id", fields.CharField(max_length=64)),
                (
                    "provider",
                    fields.ForeignKeyField(
                        "models.Provider",
                        source_field="provider_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="runs",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "version",
                    fields.ForeignKeyField(
                        "models.SpecVersion",
                        source_field="version_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="runs",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=RunStatus.QUEUED,
                        description="QUEUED: QUEUED\nSTARTING: STARTING\nRUNNING: RUNNING\nCANCELING: CANCELING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED\nCANCELED: CANCELED",
                        enum_type=RunStatus,
                        max_length=16,
                    ),
                ),
                (
                    "trigger",
                    fields.CharEnumField(
                        description="MANUAL: MANUAL\nSCHEDULE: SCHEDULE\nBACKFILL: BACKFILL\nRETRY: RETRY",
                        enum_type=RunTrigger,
                        max_length=16,
                    ),
                ),
                ("attempt", fields.IntField(default=1)),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "models.Run",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="children",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "parameters",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("window_start", fields.DateField(null=True)),
                ("window_end", fields.DateField(null=True)),
                ("logical_date", fields.DateField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("duration_ms", fields.BigIntField(null=True)),
                ("rows_read", fields.BigIntField(default=0)),
                ("rows_written", fields.BigIntField(default=0)),
                ("bytes_read", fields.BigIntField(default=0)),
                ("pages", fields.BigIntField(default=0)),
                ("requests", fields.BigIntField(default=0)),
                ("retries", fields.BigIntField(default=0)),
                ("error_class", fields.CharField(null=True, max_length=128)),
                ("error_message", fields.TextField(null=True, unique=False)),
                ("snapshot_id", fields.BigIntField(null=True)),
                ("lease_owner", fields.CharField(null=True, max_length=128)),
                (
                    "lease_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "heartbeat_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "event_seq",
                    fields.BigIntField(
                        default=0,
                        description="The sequence number of the run's latest event (events are numbered 1, 2, … per run).",
                    ),
                ),
            ],
            options={
                "table": "runs",
                "app": "models",
                "pk_attr": "id",
                "table_description": "One ingestion run of a provider's spec version; its status follows api.models.states.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RunEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "models.Run",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.BigIntField()),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="STATUS: STATUS\nPROGRESS: PROGRESS\nLOG: LOG\nMETRIC: METRIC\nQUALITY: QUALITY",
                        enum_type=EventKind,
                        max_length=16,
                    ),
                ),
                (
                    "level",
                    fields.CharEnumField(
                        default=LogLevel.INFO,
                        description="DEBUG: DEBUG\nINFO: INFO\nWARNING: WARNING\nERROR: ERROR",
                        enum_type=LogLevel,
                        max_length=16,
                    ),
                ),
                ("message", fields.TextField(default="", unique=False)),
                (
                    "payload",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "run_events",
                "app": "models",
                "unique_together": (("run", "seq"),),
                "pk_attr": "id",
                "table_description": "One ordered event of a run: a status change, progress, a log line, a metric, a check.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="QualityResult",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "models.Run",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="quality_results",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=256)),
                ("kind", fields.CharField(max_length=32)),
                ("passed", fields.BooleanField()),
                ("observed", fields.FloatField(null=True)),
                ("threshold", fields.FloatField(null=True)),
                (
                    "details",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "quality_results",
                "app": "models",
                "pk_attr": "id",
                "table_description": "The outcome of one quality check of a run.",
            },
            bases=["Model"],
        ),
        # Added after SpecVersion exists: the two tables refer to each other.
        ops.AddField(
            model_name="Provider",
            name="current_version",
            field=fields.ForeignKeyField(
                "models.SpecVersion",
                source_field="current_version_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name=False,
                on_delete=OnDelete.SET_NULL,
            ),
        ),
    ]
