"""`headwater run-spec`: in process and through spark-submit, the same job and the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ingest_setup import COLUMNS, POLYGON, ROOT, expected_rows, unique_namespace

from headwater.settings import Settings
from standins.polygon.config import SimConfig
from standins.polygon.server import RunningSim, start_process

START, END = "2024-03-01", "2024-03-15"


@pytest.fixture(scope="module")
def sim_process(settings: Settings) -> Iterator[RunningSim]:
    with start_process(SimConfig(port=0)) as running:
        yield running


def run_spec(spec: Path, sim: RunningSim, run_id: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "run-spec", str(spec), f"--from={START}",
         f"--to={END}", f"--run-id={run_id}", *extra],
        env={**os.environ, "POLYGON_API_KEY": sim.key},
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sim.key not in done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.parametrize("mode", ["in-process", "spark-submit"])
def test_run_spec(mode: str, sim_process: RunningSim, tmp_path: Path, trino_cursor: Any) -> None:
    namespace = unique_namespace()
    spec = tmp_path / "polygon.yaml"
    spec.write_text(
        POLYGON.replace("https://api.polygon.io", sim_process.base_url).replace(
            "market_data.stock_daily_bars", f"{namespace}.stock_daily_bars"
        )
    )
    extra = ["--submit"] if mode == "spark-submit" else []
    summary = run_spec(spec, sim_process, f"run-{mode}", *extra)
    expected = expected_rows(date.fromisoformat(START), date.fromisoformat(END), f"run-{mode}")
    assert summary["rows_written"] == len(expected)
    assert isinstance(summary["snapshot_id"], int)
    trino_cursor.execute(
        f"SELECT {COLUMNS} FROM iceberg.{namespace}.stock_daily_bars ORDER BY 1, 2"
    )
    assert [tuple(row) for row in trino_cursor.fetchall()] == expected
    trino_cursor.execute(f"DROP TABLE iceberg.{namespace}.stock_daily_bars")
    trino_cursor.fetchall()


def test_an_invalid_spec_is_refused_with_positions(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(POLYGON.replace("mode: batch", "mode: sometimes"))
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "run-spec", str(spec)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"{spec}:24:9: error UIS-E022" in done.stderr
