"""The run state machine of ARCHITECTURE.md; PostgreSQL enforces the same table (a trigger).

``QUEUED → STARTING → RUNNING → SUCCEEDED | FAILED``; ``QUEUED → CANCELED``;
``STARTING | RUNNING → CANCELING → CANCELED``. A lost lease or a timeout fails a STARTING or
RUNNING run; a CANCELING run that times out is canceled. Terminal states never change again.
"""

from __future__ import annotations

from api.models.enums import RunStatus

S = RunStatus
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.QUEUED: frozenset({S.STARTING, S.CANCELED}),
    S.STARTING: frozenset({S.RUNNING, S.FAILED, S.CANCELING}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELING}),
    S.CANCELING: frozenset({S.CANCELED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
}
TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
ACTIVE = frozenset({S.QUEUED, S.STARTING, S.RUNNING, S.CANCELING})


def allowed(current: RunStatus, target: RunStatus) -> bool:
    """True when ``current → target`` is a legal transition."""
    return target in TRANSITIONS[current]
