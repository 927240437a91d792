"""A fault-injection point for the fault tests: a job that dies between two commits.

A job killed between commits (its process gone) can roll nothing back; the tests need that
moment exactly, which no signal sent from outside can hit. The point is inert unless the
environment names it (``HEADWATER_TEST_DIE_AFTER_COMMITS``): no setting of the platform reads
that variable, only tests/runner/control sets it, for a worker of their own.
"""

from __future__ import annotations

import os
import signal

#: After how many of a run's commits its process is killed (unset: never).
ENVIRONMENT = "HEADWATER_TEST_DIE_AFTER_COMMITS"


def after_commit(made: int) -> None:
    """Called after each commit of a run: dies here when the tests asked for it."""
    wanted = os.environ.get(ENVIRONMENT)
    if wanted is not None and wanted.strip() == str(made):
        # SIGKILL, as a crash or the OOM killer would: nothing of the job's runs after this.
        os.kill(os.getpid(), signal.SIGKILL)
