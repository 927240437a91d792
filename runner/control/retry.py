"""When a failed run gets another attempt: exponential backoff with jitter, up to its attempts."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from uis_compiler.plan import Execution

#: However many a spec asks for: a run failing transiently this often needs a person.
MAX_ATTEMPTS = 20
#: However little a spec asks for: a source that just failed gets a moment.
MIN_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Attempts:
    """A spec's run retries (`retry_config`), as its compiled plan carries them."""

    max_attempts: int = 3
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 900.0

    @classmethod
    def of(cls, execution: Mapping[str, Any] | str | None) -> Attempts:
        """From a plan's `execution` (a JSON text or object); the defaults when absent or bad.

        The platform bounds what a spec may ask: at most ``MAX_ATTEMPTS`` attempts, at least
        ``MIN_BACKOFF_SECONDS`` between two.
        """
        if execution is None:
            return cls()
        try:
            parsed = (
                Execution.model_validate_json(execution)
                if isinstance(execution, str)
                else Execution.model_validate(execution)
            )
        except ValidationError:
            return cls()
        return cls(
            min(parsed.max_attempts, MAX_ATTEMPTS),
            max(parsed.backoff_seconds, MIN_BACKOFF_SECONDS),
            max(parsed.max_backoff_seconds, MIN_BACKOFF_SECONDS),
        )


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
