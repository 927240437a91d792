"""The ingest tests' fixtures, defined in ingest_fixtures.py (tests/security uses them too)."""

from ingest_fixtures import api, paged, settings, sim, spark, trino_cursor

__all__ = ["api", "paged", "settings", "sim", "spark", "trino_cursor"]
