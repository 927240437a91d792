"""A run's stop request, and the fence that ends it: a run is stopped, or it commits.

The worker sets the request (a user's cancel, a timeout, a lost lease, a shutdown). The job
checks it between stages and registers callbacks that stop what runs now (its Spark job
group). Before its first commit the job passes the fence: the worker records in the database
that the run is committing, which the database allows only while nobody asked to cancel it,
and from then on refuses cancels. So a stopped run has committed nothing, and a run that
committed is never reported canceled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from runner.ingest.exceptions import CanceledError

#: Asks the run's owner whether it may commit; False means it was canceled meanwhile.
Fence = Callable[[], bool]


def _always() -> bool:
    return True


class Cancellation:
    """Thread-safe: the worker cancels from its event loop, the job checks from its threads."""

    def __init__(self, fence: Fence = _always) -> None:
        self._fence = fence
        self._lock = threading.Lock()
        self._requested = threading.Event()
        self._reason: str | None = None
        self._committing = False
        self._fencing = False
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self, reason: str) -> bool:
        """Ask the run to stop; False once it is passing the fence or committing."""
        with self._lock:
            if self._committing or self._fencing:
                return False
            if self._reason is None:
                self._reason = reason
                self._requested.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
        return True

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def committing(self) -> bool:
        return self._committing

    @property
    def reason(self) -> str | None:
        return self._reason

    def check(self) -> None:
        """Raise CanceledError when a stop was asked for."""
        if self._reason is not None:
            raise CanceledError(self._reason)

    def begin_commit(self) -> None:
        """Pass the fence: from here on the run commits; raises CanceledError if it may not."""
        with self._lock:
            if self._reason is not None:
                raise CanceledError(self._reason)
            # Stops asked for while the owner answers are refused: the answer decides. (The
            # lock is not held meanwhile: the owner may be the thread that cancels.)
            self._fencing = True
        allowed = False
        try:
            allowed = self._fence()
        finally:
            with self._lock:
                self._fencing = False
                self._committing = allowed
                if not allowed:
                    self._reason = self._reason or "canceled before it could commit"
                    self._requested.set()
        if not allowed:
            raise CanceledError(self._reason or "canceled before it could commit")

    @contextlib.contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call ``callback`` if the run is canceled while the block runs (at once if it was)."""
        with self._lock:
            self._callbacks.append(callback)
            already = self._reason is not None
        if already:
            callback()
        try:
            yield
        finally:
            with self._lock:
                self._callbacks.remove(callback)
