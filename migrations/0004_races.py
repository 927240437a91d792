"""Uniqueness the database keeps, so concurrent requests cannot race past the API's checks.

- `providers_live_name_idx`: one live provider per (tenant, name); a second concurrent
  `createProvider` with the name fails its insert, which the API reports as `Conflict`.
- `runs_one_retry_idx`: a run has at most one retry (the worker's automatic one or a user's):
  two concurrent `retryRun` calls create one attempt, the other is a `Conflict`.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = [
    "CREATE UNIQUE INDEX providers_live_name_idx ON providers (tenant_id, name)"
    " WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX runs_one_retry_idx ON runs (parent_id) WHERE parent_id IS NOT NULL",
]
DROP_INDEXES = [
    "DROP INDEX IF EXISTS runs_one_retry_idx",
    "DROP INDEX IF EXISTS providers_live_name_idx",
]


class Migration(migrations.Migration):
    dependencies = [("models", "0003_control_plane")]

    initial = False

    operations = [ops.RunSQL(INDEXES, reverse_sql=DROP_INDEXES)]
