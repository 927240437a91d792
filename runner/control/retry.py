"""When a failed run gets another attempt: exponential backoff with jitter, up to its attempts."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from uis_compiler.plan import Execution


@dataclass(frozen=True, slots=True)
class Attempts:
    """A spec's run retries (`retry_config`), as its compiled plan carries them."""

    max_attempts: int = 3
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 900.0

    @classmethod
    def of(cls, execution: Mapping[str, Any] | str | None) -> Attempts:
        """From a plan's `execution` (a JSON text or object); the defaults when absent."""
        if execution is None:
            return cls()
        parsed = (
            Execution.model_validate_json(execution)
            if isinstance(execution, str)
            else Execution.model_validate(execution)
        )
        return cls(parsed.max_attempts, parsed.backoff_seconds, parsed.max_backoff_seconds)


def next_attempt(
    attempts: Attempts, attempt: int, draw: Callable[[float, float], float] = random.uniform
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``; None when ``attempt`` was the last.

    The wait doubles with every attempt up to the cap; half of it is drawn at random ("equal
    jitter"), so attempts of many runs that failed together spread out, yet none comes back at
    once to a source that just failed.
    """
    if attempt >= attempts.max_attempts:
        return None
    ceiling = min(attempts.max_backoff_seconds, attempts.backoff_seconds * 2.0 ** (attempt - 1))
    jitter: float = draw(0.0, ceiling / 2)
    return ceiling / 2 + jitter
