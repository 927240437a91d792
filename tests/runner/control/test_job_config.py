"""One job configuration for both ways of running: raw landing, lineage, Vault, spark_config.

The same spec runs in the worker's session and through spark-submit, with the platform's
settings (Settings.job_config): its key comes from Vault, its pages land in the object store,
its lineage is written, and the spec's Spark setting is in force while its SQL runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_client import Api, Keys
from control_setup import create_provider, polygon_spec, start_worker, trigger, wait_for

from headwater.settings import Settings
from runner.ingest.landing import LandingConfig, replay
from standins.polygon.server import RunningSim
from standins.vault import Vault, serve_in_thread

TOKEN = "hvs.job-config-6e1f"
CHANGES = {
    "credentials_ref: env:POLYGON_API_KEY": "credentials_ref: vault://secret/default/polygon#api_key",
    "    concurrent_requests: 8\n": (
        "    concurrent_requests: 8\n    spark_config:\n      spark.sql.shuffle.partitions: 3\n"
    ),
    # Spark SQL substitutes ${…} with the session's settings: the run shows the one in force.
    "current_timestamp() AS ingested_at,": (
        "current_timestamp() AS ingested_at, '${spark.sql.shuffle.partitions}' AS partitions,"
    ),
    "      run_id: {type: string}\n": (
        "      run_id: {type: string}\n      partitions: {type: string}\n"
    ),
}


@pytest.fixture(scope="module")
def vault(sim: RunningSim) -> Iterator[tuple[str, Vault]]:
    keeper = Vault(TOKEN, {("secret", "default/polygon"): {"api_key": sim.key}})
    with serve_in_thread(keeper) as address:
        yield address, keeper


@pytest.mark.parametrize("execution", ["in_process", "submit"])
async def test_both_modes_run_with_the_platforms_configuration(
    api: Api,
    keys: Keys,
    database_url: str,
    settings: Settings,
    sim: RunningSim,
    vault: tuple[str, Vault],
    namespace: str,
    trino_cursor: Any,
    tmp_path: Path,
    execution: str,
) -> None:
    address, keeper = vault
    worker = start_worker(
        database_url,
        f"test-worker-config-{execution}",
        HEADWATER_WORKER_EXECUTION=execution,
        HEADWATER_SPARK_MASTER="local[2]",
        HEADWATER_VAULT_ADDR=address,
        HEADWATER_VAULT_TOKEN=TOKEN,
        HEADWATER_RAW_LANDING="true",
        HEADWATER_LINEAGE_DIR=str(tmp_path),
    )
    try:
        provider = await create_provider(
            api, keys.admin, polygon_spec(sim.base_url, namespace, **CHANGES)
        )
        run_id = await trigger(api, keys.run, provider)
        run = await wait_for(api, keys.read, run_id, timeout=300)
    finally:
        worker.stop()
    assert run["status"] == "SUCCEEDED", run
    assert TOKEN in keeper.tokens_seen
    trino_cursor.execute(f"SELECT DISTINCT partitions FROM iceberg.{namespace}.stock_daily_bars")
    assert trino_cursor.fetchall() == [["3"]]
    landing = LandingConfig(settings.raw_bucket, settings.object_store_config())
    pages = list(replay(landing, "polygon", run_id))
    assert len(pages) == run["metrics"]["pages"] == 5
    lineage = (tmp_path / f"{run_id}.json").read_text()
    assert f"{namespace}.stock_daily_bars" in lineage
    assert sim.key not in lineage
