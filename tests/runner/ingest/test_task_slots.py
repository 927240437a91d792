"""How many fetching tasks a run starts: one per task slot of the master."""

from __future__ import annotations

import os

import pytest

from runner.ingest.spark_fetch import task_slots

CPUS = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("master", "default_parallelism", "slots"),
    [
        ("local", 4, 1),
        ("local[3]", 4, 3),
        ("local[3,2]", 4, 3),
        ("local[*]", 4, CPUS),
        ("local[*,2]", 4, CPUS),
        ("spark://head:7077", 12, 12),
        ("yarn", 32, 32),
    ],
)
def test_task_slots(master: str, default_parallelism: int, slots: int) -> None:
    assert task_slots(master, default_parallelism) == slots
