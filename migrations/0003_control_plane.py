"""The control plane's columns: retry backoff, cron ticks, backfill groups, the commit fence.

- `runs.run_after`: a retry waits out its backoff; workers claim no run before it.
- `runs.scheduled_for` with a unique index per provider: each cron tick makes at most one run,
  however many schedulers think they lead.
- `backfills` and `runs.backfill_id`: a backfill's chunks form a group, claimed in order and
  at most `max_concurrency` at a time, visible and cancellable as a whole.
- `runs.commit_started_at`: set (by the worker, only while the run is RUNNING) just before the
  run commits; from then on the database refuses a cancel, so a run is either CANCELED with
  nothing committed or finishes its commits.
- `providers.next_run_at`, kept by the scheduler.
- status changes are also announced on `headwater_run_status` (run, status, provider): workers
  listen there for queued and canceling runs without reading every log line's announcement.
- a batch writer (the worker's event log) may announce its rows once per batch: with the
  transaction setting `headwater.batch_events` on, the rows are not announced one by one and
  the writer sends one `BATCH` announcement (marked truncated, so subscribers read the rows
  from the table), which stores a burst of log lines an order of magnitude faster.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

INDEXES = [
    "CREATE UNIQUE INDEX runs_schedule_tick_idx ON runs (provider_id, scheduled_for)"
    " WHERE scheduled_for IS NOT NULL",
    "CREATE INDEX runs_backfill_idx ON runs (backfill_id, window_start, id)"
    " WHERE backfill_id IS NOT NULL",
    # The heartbeat renews every lease a worker holds in one statement.
    "CREATE INDEX runs_lease_owner_idx ON runs (lease_owner)"
    " WHERE status IN ('STARTING', 'RUNNING', 'CANCELING')",
    "CREATE INDEX providers_next_run_idx ON providers (next_run_at)"
    " WHERE status = 'ACTIVE' AND next_run_at IS NOT NULL",
    "CREATE INDEX backfills_provider_idx ON backfills (provider_id, created_at DESC, id DESC)",
]
DROP_INDEXES = [
    "DROP INDEX IF EXISTS backfills_provider_idx",
    "DROP INDEX IF EXISTS providers_next_run_idx",
    "DROP INDEX IF EXISTS runs_lease_owner_idx",
    "DROP INDEX IF EXISTS runs_backfill_idx",
    "DROP INDEX IF EXISTS runs_schedule_tick_idx",
]

#: Defaults in the database itself (the ORM applies them only to its own inserts): the
#: scheduler and the retry policy insert runs with SQL.
_COUNTERS = ("rows_read", "rows_written", "bytes_read", "pages", "requests", "retries")
DEFAULTS = [
    *(f"ALTER TABLE runs ALTER COLUMN {name} SET DEFAULT 0" for name in _COUNTERS),
    "ALTER TABLE runs ALTER COLUMN attempt SET DEFAULT 1",
    "ALTER TABLE runs ALTER COLUMN event_seq SET DEFAULT 0",
    "ALTER TABLE runs ALTER COLUMN parameters SET DEFAULT '{}'::jsonb",
    "ALTER TABLE runs ALTER COLUMN created_at SET DEFAULT now()",
    "ALTER TABLE run_events ALTER COLUMN at SET DEFAULT now()",
]
DROP_DEFAULTS = [
    *(f"ALTER TABLE runs ALTER COLUMN {name} DROP DEFAULT" for name in _COUNTERS),
    "ALTER TABLE runs ALTER COLUMN attempt DROP DEFAULT",
    "ALTER TABLE runs ALTER COLUMN event_seq DROP DEFAULT",
    "ALTER TABLE runs ALTER COLUMN parameters DROP DEFAULT",
    "ALTER TABLE runs ALTER COLUMN created_at DROP DEFAULT",
    "ALTER TABLE run_events ALTER COLUMN at DROP DEFAULT",
]

COMMIT_FENCE = r"""
CREATE FUNCTION headwater_run_commit_fence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'CANCELING' AND OLD.status <> 'CANCELING' AND OLD.commit_started_at IS NOT NULL THEN
        RAISE EXCEPTION 'run % is committing its data; it can no longer be canceled', OLD.id
            USING ERRCODE = 'HW001',
                  DETAIL = json_build_object('run_id', OLD.id, 'from', OLD.status,
                                             'to', NEW.status)::text;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER runs_commit_fence BEFORE UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION headwater_run_commit_fence();

CREATE FUNCTION headwater_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('headwater_run_status', json_build_object(
        'run_id', NEW.run_id, 'seq', NEW.seq, 'status', NEW.payload->>'to',
        'provider_id', NEW.payload->'provider_id')::text);
    RETURN NULL;
END $$;

CREATE TRIGGER run_events_status_notify AFTER INSERT ON run_events
    FOR EACH ROW WHEN (NEW.kind = 'STATUS') EXECUTE FUNCTION headwater_status_notify();
"""

#: A row written with its number (the batch writer numbers its rows) skips the numbering
#: trigger, and a batch writer's rows skip the per-row announcement: both triggers are only
#: called when their condition holds, which is what makes a burst of events cheap.
BATCHED_TRIGGERS = """
DROP TRIGGER run_events_seq ON run_events;
CREATE TRIGGER run_events_seq BEFORE INSERT ON run_events
    FOR EACH ROW WHEN (NEW.seq IS NULL) EXECUTE FUNCTION headwater_event_seq();
DROP TRIGGER run_events_notify ON run_events;
CREATE TRIGGER run_events_notify AFTER INSERT ON run_events FOR EACH ROW
    WHEN (current_setting('headwater.batch_events', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION headwater_event_notify();
"""
PER_ROW_TRIGGERS = """
DROP TRIGGER run_events_seq ON run_events;
CREATE TRIGGER run_events_seq BEFORE INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION headwater_event_seq();
DROP TRIGGER run_events_notify ON run_events;
CREATE TRIGGER run_events_notify AFTER INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION headwater_event_notify();
"""

DROP_COMMIT_FENCE = """
DROP TRIGGER IF EXISTS run_events_status_notify ON run_events;
DROP FUNCTION IF EXISTS headwater_status_notify();
DROP TRIGGER IF EXISTS runs_commit_fence ON runs;
DROP FUNCTION IF EXISTS headwater_run_commit_fence();
"""


def _nullable_time() -> fields.DatetimeField:
    return fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)


class Migration(migrations.Migration):
    dependencies = [("models", "0002_run_state_machine")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Backfill",
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
                        related_name="backfills",
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
                        related_name="backfills",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("window_start", fields.DateField()),
                ("window_end", fields.DateField()),
                ("chunk_days", fields.IntField()),
                ("max_concurrency", fields.IntField(default=1)),
                ("created_by", fields.CharField(max_length=128)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("canceled_at", _nullable_time()),
            ],
            options={
                "table": "backfills",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A date window ingested as chunked runs, in order, at most "
                "``max_concurrency`` at a time.",
            },
            bases=["Model"],
        ),
        ops.AddField(model_name="Provider", name="next_run_at", field=_nullable_time()),
        ops.AddField(model_name="Run", name="run_after", field=_nullable_time()),
        ops.AddField(model_name="Run", name="scheduled_for", field=_nullable_time()),
        ops.AddField(
            model_name="Run",
            name="backfill",
            field=fields.ForeignKeyField(
                "models.Backfill",
                source_field="backfill_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="runs",
                on_delete=OnDelete.SET_NULL,
            ),
        ),
        ops.AddField(
            model_name="Run", name="spark_app_id", field=fields.CharField(null=True, max_length=128)
        ),
        ops.AddField(model_name="Run", name="commit_started_at", field=_nullable_time()),
        ops.RunSQL(INDEXES, reverse_sql=DROP_INDEXES),
        ops.RunSQL(DEFAULTS, reverse_sql=DROP_DEFAULTS),
        ops.RunSQL(COMMIT_FENCE, reverse_sql=DROP_COMMIT_FENCE),
        ops.RunSQL(BATCHED_TRIGGERS, reverse_sql=PER_ROW_TRIGGERS),
    ]
