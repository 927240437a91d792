"""The generic ingest job: a compiled Spark plan in, one atomic Iceberg commit out."""
