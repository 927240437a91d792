"""Prometheus metrics of the worker and the scheduler (served on the worker's metrics port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS_FINISHED = Counter(
    "headwater_worker_runs_finished_total", "Runs this worker ended, by final status", ["status"]
)
RUNS_ACTIVE = Gauge("headwater_worker_runs_active", "Runs this worker executes now")
RUNS_BY_STATUS = Gauge(
    "headwater_runs", "Runs in the database per active status (queued, starting, …)", ["status"]
)
QUEUE_DEPTH = Gauge("headwater_queue_depth", "Queued runs waiting for a worker")
RUN_SECONDS = Histogram(
    "headwater_worker_run_seconds",
    "Claim-to-end time of the runs this worker ended",
    ["status"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200, 21600),
)
CLAIM_TO_RUNNING = Histogram(
    "headwater_worker_claim_to_running_seconds",
    "From a run's claim to its job's first stage",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ROWS_WRITTEN = Counter(
    "headwater_worker_rows_written_total", "Rows committed by this worker's runs"
)
RETRIES_QUEUED = Counter(
    "headwater_worker_retries_queued_total", "Next attempts queued after a transient failure"
)
REQUEST_RETRIES = Counter(
    "headwater_worker_request_retries_total", "HTTP requests the jobs retried (429, 5xx, resets)"
)
RATE_LIMIT_WAIT = Counter(
    "headwater_worker_rate_limit_wait_seconds_total", "Seconds the jobs waited for rate limits"
)
LEASE_RENEWALS = Counter("headwater_worker_lease_renewals_total", "Successful lease renewals")
LEASE_RENEWAL_FAILURES = Counter(
    "headwater_worker_lease_renewal_failures_total", "Lease renewals that failed (database away)"
)
REAPED = Counter("headwater_worker_reaped_total", "Runs of lost workers this worker ended")
EVENTS_WRITTEN = Counter("headwater_worker_events_written_total", "Run events stored")
EVENT_WRITE_FAILURES = Counter(
    "headwater_worker_event_write_failures_total", "Event batches that failed and were retried"
)
SCHEDULED = Counter("headwater_scheduler_runs_queued_total", "Runs queued by cron ticks")
SCHEDULER_LEADER = Gauge("headwater_scheduler_leader", "1 while this process is the scheduler")
