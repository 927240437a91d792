"""No secret value on any path the control plane adds: a canary key, in process and submitted.

The key travels in the URL's query (`apiKey=`), the worst place for it. One run succeeds, one
is refused by a source that does not know the key; then every event, error, run row, worker
log, driver log, metric and lineage file is searched for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import ROOT, Api, Keys
from control_setup import create_provider, events_of, polygon_spec, start_worker, trigger, wait_for

from standins.polygon.config import SimConfig
from standins.polygon.server import RunningSim, start_in_thread

CANARY = f"canary-{uuid.uuid4().hex}"
IN_THE_QUERY = {
    "      auth: bearer\n": (
        "      auth: api_key\n      auth_config:\n        location: query\n"
        "        param_name: apiKey\n"
    )
}
RUN_ROW = """query($id: ID!) { run(id: $id) { errorMessage parameters events(first: 200) {
  events { message payload } } } }"""


@pytest.fixture(scope="module")
def accepting() -> Iterator[RunningSim]:
    """A Polygon server that takes the canary as its key."""
    with start_in_thread(SimConfig(port=0, keys=(CANARY,))) as running:
        yield running


@pytest.mark.parametrize("execution", ["in_process", "submit"])
async def test_the_canary_appears_nowhere(
    api: Api,
    keys: Keys,
    database_url: str,
    accepting: RunningSim,
    sim: RunningSim,
    namespace: str,
    tmp_path: Path,
    execution: str,
) -> None:
    lineage = tmp_path / "lineage"
    worker = start_worker(
        database_url,
        f"test-worker-canary-{execution}",
        POLYGON_API_KEY=CANARY,
        HEADWATER_WORKER_EXECUTION=execution,
        HEADWATER_SPARK_MASTER="local[2]",
        HEADWATER_LINEAGE_DIR=str(lineage),
    )
    try:
        good = await create_provider(
            api, keys.admin, polygon_spec(accepting.base_url, namespace, **IN_THE_QUERY)
        )
        refused = await create_provider(
            api,
            keys.admin,
            polygon_spec(sim.base_url, namespace, name="refused", **IN_THE_QUERY),
        )
        done = await wait_for(api, keys.read, await trigger(api, keys.run, good), timeout=300)
        failed = await wait_for(api, keys.read, await trigger(api, keys.run, refused), timeout=300)
        metrics = worker.metrics()
    finally:
        worker.stop()
    assert done["status"] == "SUCCEEDED", done
    assert (failed["status"], failed["errorClass"]) == ("FAILED", "http_terminal")
    texts = [metrics, worker.log(), str(done), str(failed)]
    for run in (done, failed):
        texts.append(str(await api.data(RUN_ROW, {"id": run["id"]}, keys.read)))
        texts += [str(event) for event in await events_of(api, keys.read, run["id"])]
    texts += [path.read_text() for path in lineage.rglob("*.json")]
    texts += [path.read_text(errors="replace") for path in (ROOT / "var" / "worker").rglob("*")
              if path.is_file() and path.suffix in (".log", ".json")]  # fmt: skip
    # The texts searched are the real ones: the run's commit and the refusal are in them.
    assert any("committed" in text for text in texts)
    assert any("HTTP 401" in text for text in texts)
    assert not [text[:200] for text in texts if CANARY in text]
