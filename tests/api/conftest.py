"""The API tests' fixtures (shared with the control plane's tests: db_fixtures.py)."""

from db_fixtures import api, clean, database_url, keys, orm, postgres

__all__ = ["api", "clean", "database_url", "keys", "orm", "postgres"]
