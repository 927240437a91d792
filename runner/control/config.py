"""The control plane's settings: plain frozen values that the composition root fills in."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Literal

Misfire = Literal["skip", "catch_up"]


def worker_name() -> str:
    """host:pid:random, unique among the workers of one database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How one worker process claims, holds and runs its runs."""

    database_url: str
    #: Runs executed at once.
    slots: int = 2
    name: str = field(default_factory=worker_name)
    #: A lease not renewed for this long is expired: the run's worker is taken for dead.
    lease_seconds: float = 30.0
    #: How often the worker renews its leases (its own heartbeat, never the job's).
    heartbeat_seconds: float = 5.0
    #: How often queued runs are looked for without a notification (retries' backoff ends so).
    poll_seconds: float = 1.0
    #: How often expired leases are looked for.
    reap_seconds: float = 5.0
    start_timeout_seconds: float = 600.0
    #: The longest a run may take when its spec sets no max_runtime_minutes.
    max_runtime_seconds: float = 6 * 3600.0
    #: How long a stopped run may take to stop before it is ended by force.
    cancel_timeout_seconds: float = 60.0
    #: On SIGTERM: how long running runs may take to finish before they are stopped.
    shutdown_grace_seconds: float = 30.0
    #: Prometheus metrics on this loopback port (None: none).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    #: Buffered run events are written at least this often.
    flush_seconds: float = 0.05


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """How the scheduler turns cron ticks into runs."""

    database_url: str
    #: How often the scheduler (and a stand-by one, for the lock) looks.
    tick_seconds: float = 1.0
    #: Missed ticks: `skip` them (only ticks within ``misfire_grace_seconds`` still run), or
    #: `catch_up`: run the latest ``catch_up_max`` of them, oldest first.
    misfire: Misfire = "catch_up"
    catch_up_max: int = 1
    misfire_grace_seconds: float = 60.0
