"""What one run brings to a plan: its id, window, parameters; expanded into request chains."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

from runner.ingest.exceptions import ParameterMissingError
from uis_compiler.plan import Endpoint, SparkPlan


@dataclass(frozen=True, slots=True)
class RunInputs:
    """A run's identity, date window and parameters."""

    run_id: str
    logical_date: date
    start_date: date
    end_date: date
    parameters: dict[str, str] = field(default_factory=dict)
    #: The run ids of the earlier attempts of this run (a retry's chain), newest first: a sink
    #: one of them committed is not written again.
    earlier_attempts: tuple[str, ...] = ()

    @classmethod
    def for_window(
        cls,
        plan: SparkPlan,
        run_id: str,
        *,
        logical_date: date,
        start: date | None = None,
        end: date | None = None,
        parameters: dict[str, str] | None = None,
        earlier_attempts: tuple[str, ...] = (),
    ) -> RunInputs:
        """The window of a backfill (start, end), else lookback_days before the logical date."""
        end_date = end or logical_date
        start_date = start or (end_date - timedelta(days=plan.window.lookback_days))
        return cls(
            run_id, logical_date, start_date, end_date, dict(parameters or {}), earlier_attempts
        )

    def variables(self) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "logical_date": self.logical_date.isoformat(),
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            **self.parameters,
        }


@dataclass(frozen=True, slots=True)
class Chain:
    """One request chain: an endpoint with one combination of fan-out values (all its pages)."""

    endpoint: int
    variables: dict[str, str]


def chains(plan: SparkPlan, inputs: RunInputs) -> list[Chain]:
    """Every endpoint, times every combination of its fan-out values, in a stable order."""
    missing = [name for name in plan.parameters if name not in inputs.parameters]
    if missing:
        raise ParameterMissingError(
            f"the run needs parameter(s) {', '.join(missing)}; trigger it with "
            "parameters: {" + ", ".join(f"{name}: …" for name in missing) + "}"
        )
    base = inputs.variables()
    found: list[Chain] = []
    for index, endpoint in enumerate(plan.endpoints):
        found += [Chain(index, {**base, **combo}) for combo in _combinations(plan, endpoint)]
    return found


def _combinations(plan: SparkPlan, endpoint: Endpoint) -> list[dict[str, str]]:
    names = endpoint.fan_out
    values = [plan.fan_out[name] for name in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
