"""Indexes for every list filter and sort, the run state machine, event numbering and NOTIFY.

The state machine lives in the database so that no writer (API, worker, a console session) can
move a run illegally: a BEFORE trigger checks each status change against the table of
ARCHITECTURE.md (api/models/states.py mirrors it), keeps terminal states final, stamps times and
numbers the change as the run's next event. Every event row (status, progress, log, metric,
quality) announces itself on the channel `headwater_run_events`, so the API's broker needs one
LISTEN connection for everything.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# Keyset pagination reads (sort key, id) pairs in order, so each filter + sort pair has an index
# that starts with the filter's column(s) and ends with the sort key and the id.
INDEXES = [
    "CREATE INDEX runs_created_idx ON runs (created_at DESC, id DESC)",
    "CREATE INDEX runs_status_created_idx ON runs (status, created_at DESC, id DESC)",
    "CREATE INDEX runs_provider_created_idx ON runs (provider_id, created_at DESC, id DESC)",
    "CREATE INDEX runs_provider_status_created_idx"
    " ON runs (provider_id, status, created_at DESC, id DESC)",
    "CREATE INDEX runs_trigger_created_idx ON runs (trigger, created_at DESC, id DESC)",
    "CREATE INDEX runs_tenant_created_idx ON runs (tenant_id, created_at DESC, id DESC)",
    "CREATE INDEX runs_tenant_status_created_idx"
    " ON runs (tenant_id, status, created_at DESC, id DESC)",
    "CREATE INDEX runs_started_idx ON runs (started_at DESC NULLS LAST, id DESC)",
    "CREATE INDEX runs_status_started_idx ON runs (status, started_at DESC NULLS LAST, id DESC)",
    "CREATE INDEX runs_duration_idx ON runs (duration_ms DESC NULLS LAST, id DESC)",
    "CREATE INDEX runs_status_duration_idx ON runs (status, duration_ms DESC NULLS LAST, id DESC)",
    # The worker's claim (oldest queued first) and the lease reaper.
    "CREATE INDEX runs_queued_idx ON runs (created_at, id) WHERE status = 'QUEUED'",
    "CREATE INDEX runs_lease_idx ON runs (lease_expires_at)"
    " WHERE status IN ('STARTING', 'RUNNING', 'CANCELING')",
    "CREATE INDEX runs_parent_idx ON runs (parent_id) WHERE parent_id IS NOT NULL",
    "CREATE INDEX runs_version_idx ON runs (version_id)",
    "CREATE INDEX quality_results_run_idx ON quality_results (run_id)",
    "CREATE INDEX spec_versions_provider_idx ON spec_versions (provider_id, number DESC)",
    "CREATE UNIQUE INDEX providers_tenant_name_idx ON providers (tenant_id, name)"
    " WHERE deleted_at IS NULL",
    "CREATE INDEX providers_status_idx ON providers (status, id)",
    "CREATE INDEX providers_tenant_status_idx ON providers (tenant_id, status, id)",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX providers_search_idx ON providers"
    " USING gin ((name || ' ' || display_name) gin_trgm_ops)",
    "CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC)",
    "CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at DESC)",
]
DROP_INDEXES = [
    f"DROP INDEX IF EXISTS {statement.split()[3 if 'UNIQUE' in statement else 2]}"
    for statement in reversed(INDEXES)
    if statement.startswith("CREATE") and "EXTENSION" not in statement
]

STATE_MACHINE = r"""
CREATE FUNCTION headwater_run_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'QUEUED' THEN
            RAISE EXCEPTION 'a run is created QUEUED, not %', NEW.status
                USING ERRCODE = 'HW001', HINT = 'insert the run as QUEUED';
        END IF;
        NEW.event_seq := 1;
        RETURN NEW;
    END IF;
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status, NEW.status) NOT IN (
        ('QUEUED', 'STARTING'), ('QUEUED', 'CANCELED'),
        ('STARTING', 'RUNNING'), ('STARTING', 'FAILED'), ('STARTING', 'CANCELING'),
        ('RUNNING', 'SUCCEEDED'), ('RUNNING', 'FAILED'), ('RUNNING', 'CANCELING'),
        ('CANCELING', 'CANCELED')
    ) THEN
        RAISE EXCEPTION 'illegal run transition % -> % (run %)', OLD.status, NEW.status, OLD.id
            USING ERRCODE = 'HW001',
                  DETAIL = json_build_object('run_id', OLD.id, 'from', OLD.status,
                                             'to', NEW.status)::text;
    END IF;
    IF NEW.status = 'STARTING' THEN
        NEW.started_at := COALESCE(NEW.started_at, now());
    END IF;
    IF NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELED') THEN
        NEW.finished_at := COALESCE(NEW.finished_at, now());
        NEW.duration_ms := (EXTRACT(EPOCH FROM NEW.finished_at
                            - COALESCE(NEW.started_at, NEW.created_at)) * 1000)::bigint;
        NEW.lease_owner := NULL;
        NEW.lease_expires_at := NULL;
    END IF;
    NEW.event_seq := OLD.event_seq + 1;
    RETURN NEW;
END $$;

CREATE TRIGGER runs_transition BEFORE INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION headwater_run_transition();

-- Each status (the first, QUEUED, included) becomes the run's next event.
CREATE FUNCTION headwater_run_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status THEN
        RETURN NULL;
    END IF;
    INSERT INTO run_events (run_id, seq, at, kind, level, message, payload)
    VALUES (NEW.id, NEW.event_seq, now(), 'STATUS',
            CASE WHEN NEW.status = 'FAILED' THEN 'ERROR' ELSE 'INFO' END,
            CASE WHEN TG_OP = 'INSERT' THEN NEW.status
                 ELSE OLD.status || ' -> ' || NEW.status END,
            json_build_object(
                'from', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END,
                'to', NEW.status, 'provider_id', NEW.provider_id, 'tenant_id', NEW.tenant_id,
                'trigger', NEW.trigger, 'error_class', NEW.error_class));
    RETURN NULL;
END $$;

CREATE TRIGGER runs_status_event AFTER INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION headwater_run_status_event();

-- Other events (inserted with seq NULL) get the run's next number; the runs row lock orders
-- concurrent writers. NOT NULL is checked after BEFORE triggers, so the column stays NOT NULL.
CREATE FUNCTION headwater_event_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL THEN
        UPDATE runs SET event_seq = event_seq + 1 WHERE id = NEW.run_id
            RETURNING event_seq INTO NEW.seq;
        IF NEW.seq IS NULL THEN
            RAISE EXCEPTION 'run % does not exist', NEW.run_id USING ERRCODE = 'HW002';
        END IF;
    END IF;
    NEW.at := COALESCE(NEW.at, now());
    RETURN NEW;
END $$;

CREATE TRIGGER run_events_seq BEFORE INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION headwater_event_seq();

-- The payload must stay under NOTIFY's 8000 bytes: long messages and payloads are cut and
-- marked, and a listener that needs them whole reads the row.
CREATE FUNCTION headwater_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload_text text := NEW.payload::text;
    small boolean := payload_text IS NULL OR length(payload_text) <= 3000;
BEGIN
    PERFORM pg_notify('headwater_run_events', json_build_object(
        'id', NEW.id, 'run_id', NEW.run_id, 'seq', NEW.seq, 'at', NEW.at,
        'kind', NEW.kind, 'level', NEW.level,
        'message', left(NEW.message, 2000),
        'payload', CASE WHEN small THEN NEW.payload END,
        'truncated', NOT small OR length(NEW.message) > 2000)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER run_events_notify AFTER INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION headwater_event_notify();
"""

DROP_STATE_MACHINE = """
DROP TRIGGER IF EXISTS run_events_notify ON run_events;
DROP TRIGGER IF EXISTS run_events_seq ON run_events;
DROP TRIGGER IF EXISTS runs_status_event ON runs;
DROP TRIGGER IF EXISTS runs_transition ON runs;
DROP FUNCTION IF EXISTS headwater_event_notify();
DROP FUNCTION IF EXISTS headwater_event_seq();
DROP FUNCTION IF EXISTS headwater_run_status_event();
DROP FUNCTION IF EXISTS headwater_run_transition();
"""


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.RunSQL(INDEXES, reverse_sql=DROP_INDEXES),
        ops.RunSQL(STATE_MACHINE, reverse_sql=DROP_STATE_MACHINE),
    ]
