"""Baseline (b): the same pages loaded by dlt's REST API source into Parquet files (a peer).

One child resource per ticker (resolved from a parent resource that lists the tickers), the
bearer key on every page, `next_url` followed (json_link), records under `results`, loaded by
dlt's `filesystem` destination as Parquet into a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_plan import AGGS_QUERY, Workload

# Set before dlt is imported: no telemetry, and its own logging kept quiet.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt
from dlt.sources.rest_api import rest_api_source


@dataclass(frozen=True)
class Loaded:
    """What one dlt run loaded, and how long it took (extract, normalize, load)."""

    workers: int
    rows: int
    files: int
    seconds: float
    extract_seconds: float
    normalize_seconds: float
    load_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _source(work: Workload) -> Any:
    @dlt.resource(name="tickers", selected=False)
    def tickers() -> Any:
        yield [{"ticker": ticker} for ticker in work.tickers]

    return rest_api_source(
        {
            "client": {
                "base_url": work.base_url,
                "auth": {"type": "bearer", "token": work.key},
                "paginator": {"type": "json_link", "next_url_path": "next_url"},
            },
            "resources": [
                tickers,
                {
                    "name": "bars",
                    # Each ticker's chain is fetched on dlt's worker threads, as many at once
                    # as `workers` allows.
                    "parallelized": True,
                    "endpoint": {
                        "path": work.path_template().lstrip("/"),
                        "params": {
                            **AGGS_QUERY,
                            "ticker": {"type": "resolve", "resource": "tickers", "field": "ticker"},
                        },
                        "data_selector": "results",
                    },
                },
            ],
        }
    )


def load(work: Workload, workers: int) -> Loaded:
    """One pipeline run into Parquet files under a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as folder:
        root = Path(folder)
        pipeline = dlt.pipeline(
            pipeline_name="bench_ingest_dlt",
            pipelines_dir=str(root / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=(root / "data").as_uri()),
            dataset_name="polygon",
        )
        started = time.perf_counter()
        pipeline.extract(
            _source(work),
            workers=workers,
            max_parallel_items=max(20, workers * 2),
            loader_file_format="parquet",
        )
        extracted = time.perf_counter()
        normalized_info = pipeline.normalize()
        normalized = time.perf_counter()
        pipeline.load()
        finished = time.perf_counter()
        rows = normalized_info.row_counts.get("bars", 0)
        files = len(list((root / "data").rglob("*.parquet")))
    return Loaded(
        workers,
        rows,
        files,
        finished - started,
        extracted - started,
        normalized - extracted,
        finished - normalized,
    )
