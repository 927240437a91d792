"""The runner: worker, scheduler and the Spark ingest job (issue: Data plane). Not built yet."""
