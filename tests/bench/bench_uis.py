"""Benchmark: parse + validate + compile the Polygon example, against a plain yaml.safe_load.

Run with `make bench-uis`. Prints medians and the ratio to the baseline measured in the same run.
Targets (issue 2): validate + compile under 5 ms, and at most 2x the plain load.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "uis_compiler/examples/polygon_stock_daily_bars.yaml"
)
ROUNDS = 400
WARMUP = 50


def median_ms(work: Callable[[], object]) -> float:
    for _ in range(WARMUP):
        work()
    gc.collect()
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        work()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1e6


def main() -> None:
    text = EXAMPLE.read_text()

    def pipeline() -> str:
        result = validate(text)
        assert result.valid and result.spec is not None
        return compile_spark(result.spec).to_json()

    def parse_validate() -> object:
        return validate(text)

    baseline = median_ms(lambda: yaml.safe_load(text))
    c_loader = median_ms(lambda: yaml.load(text, Loader=yaml.CSafeLoader))
    checked = median_ms(parse_validate)
    total = median_ms(pipeline)
    print(f"document: {EXAMPLE.name} ({len(text)} bytes), median of {ROUNDS} rounds")
    print(f"baseline yaml.safe_load (pure-Python loader): {baseline:8.3f} ms")
    print(f"reference yaml CSafeLoader (no positions):    {c_loader:8.3f} ms")
    print(f"parse + validate:                             {checked:8.3f} ms")
    print(f"parse + validate + compile (Spark plan):      {total:8.3f} ms")
    print(
        f"ratio to baseline: {total / baseline:.2f}x (target <= 2x); "
        f"absolute target < 5 ms: {'met' if total < 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
