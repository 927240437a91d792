"""Lineage: the proposals, the JSON file read by the real `datahub ingest`, and the REST emitter
against a loopback server speaking GMS's Rest.li ingestion protocol (DataHub cannot run here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paged_api import serve_asgi
from pydantic import SecretStr
from pyspark.sql import types as T
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runner.ingest.lineage import (
    LineageConfig,
    LineageError,
    OutputTable,
    RunFacts,
    emit_run_lineage,
    lineage_mcps,
)
from runner.ingest.secrets import Redactor, resolve
from uis_compiler import validate
from uis_compiler.compilers.spark import compile_spark
from uis_compiler.grants import DEFAULT_GRANTS
from uis_compiler.plan import SparkPlan

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml"
SOURCE = "urn:li:dataset:(urn:li:dataPlatform:rest,polygon.daily_bars,PROD)"
TABLE = "urn:li:dataset:(urn:li:dataPlatform:iceberg,market_data.stock_daily_bars,PROD)"
FLOW = "urn:li:dataFlow:(headwater,polygon,PROD)"
JOB = f"urn:li:dataJob:({FLOW},polygon_stock_daily_bars)"
CANARY = "hw-canary-5d1e8b2f"
#: The table as Spark reads it back after the example's merge.
SCHEMA = T.StructType(
    [
        T.StructField("ticker", T.StringType()),
        T.StructField("bar_date", T.DateType()),
        T.StructField("open", T.DoubleType()),
        T.StructField("close", T.DoubleType()),
        T.StructField("volume", T.LongType()),
        T.StructField("bar_start", T.TimestampType()),
        T.StructField("run_id", T.StringType(), nullable=False),
    ]
)
NATIVE = {
    "ticker": "string",
    "bar_date": "date",
    "open": "double",
    "close": "double",
    "volume": "bigint",
    "bar_start": "timestamp",
    "run_id": "string",
}


@pytest.fixture(scope="module")
def plan() -> SparkPlan:
    result = validate(EXAMPLE.read_text())
    assert result.valid and result.spec is not None, result.errors
    return compile_spark(result.spec).plan


def _run(run_id: str = "run-1", **properties: str) -> RunFacts:
    finished = datetime(2026, 11, 25, 18, 5, tzinfo=UTC)
    return RunFacts(run_id, finished - timedelta(seconds=42), finished, properties=properties)


def _tables(snapshot_id: int = 7) -> list[OutputTable]:
    return [OutputTable.of("headwater.market_data.stock_daily_bars", SCHEMA, snapshot_id)]


def _aspects(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(urn, aspect name) → the aspects' JSON, from records in the file format."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        aspect = record["aspect"]
        value = aspect["json"] if "json" in aspect else json.loads(aspect["value"])
        found.setdefault((record["entityUrn"], record["aspectName"]), []).append(value)
    return found


def _run_urn(aspects: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    return sorted({urn for urn, name in aspects if name == "dataProcessInstanceProperties"})


def _check_lineage(aspects: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    """The facts every delivery must carry: datasets, the schema, the job's edges, the run."""
    source = aspects[(SOURCE, "datasetProperties")][-1]
    assert source["name"] == "daily_bars"
    assert source["customProperties"]["url_template"] == (
        "https://api.polygon.io/v2/aggs/ticker/{{ ticker }}/range/1/day/{{ start_date }}/{{ end_date }}"
    )
    schema = aspects[(TABLE, "schemaMetadata")][-1]
    assert schema["schemaName"] == "market_data.stock_daily_bars"
    assert schema["platform"] == "urn:li:dataPlatform:iceberg"
    assert {f["fieldPath"]: f["nativeDataType"] for f in schema["fields"]} == NATIVE
    keys = {f["fieldPath"] for f in schema["fields"] if f["isPartOfKey"]}
    assert keys == {"ticker", "bar_date"}
    io = aspects[(JOB, "dataJobInputOutput")][-1]
    assert io["inputDatasets"] == [SOURCE] and io["outputDatasets"] == [TABLE]
    assert [e["destinationUrn"] for e in io["inputDatasetEdges"]] == [SOURCE]
    assert [e["destinationUrn"] for e in io["outputDatasetEdges"]] == [TABLE]
    assert aspects[(JOB, "dataJobInfo")][-1]["flowUrn"] == FLOW
    assert aspects[(FLOW, "dataFlowInfo")][-1]["name"] == "polygon"
    for run in _run_urn(aspects):
        assert aspects[(run, "dataProcessInstanceRelationships")][-1]["parentTemplate"] == JOB
        assert aspects[(run, "dataProcessInstanceInput")][-1]["inputs"] == [SOURCE]
        assert aspects[(run, "dataProcessInstanceOutput")][-1]["outputs"] == [TABLE]
        event = aspects[(run, "dataProcessInstanceRunEvent")][-1]
        assert event["status"] == "COMPLETE" and event["result"]["type"] == "SUCCESS"
        assert event["durationMillis"] == 42_000


def test_proposals_of_a_run(plan: SparkPlan) -> None:
    config = LineageConfig(folder=Path("unused"))
    mcps = lineage_mcps(config, plan, _tables(), _run())
    assert [(m.entityUrn, m.aspectName) for m in mcps][:8] == [
        (SOURCE, "datasetProperties"),
        (SOURCE, "subTypes"),
        (TABLE, "schemaMetadata"),
        (TABLE, "datasetProperties"),
        (TABLE, "subTypes"),
        (FLOW, "dataFlowInfo"),
        (JOB, "dataJobInfo"),
        (JOB, "dataJobInputOutput"),
    ]
    assert len(mcps) == 13
    records = [m.to_obj(simplified_structure=True) for m in mcps]
    aspects = _aspects(records)
    _check_lineage(aspects)
    (run,) = _run_urn(aspects)
    assert aspects[(run, "dataProcessInstanceProperties")][0]["customProperties"] == {
        "snapshot_id.market_data.stock_daily_bars": "7"
    }
    # The same run always has the same URN; another run has its own.
    again = lineage_mcps(config, plan, _tables(), _run())
    other = lineage_mcps(config, plan, _tables(), _run("run-2"))
    assert again[-1].entityUrn == run and other[-1].entityUrn != run


def test_platform_instance_names_the_iceberg_catalog(plan: SparkPlan) -> None:
    config = LineageConfig(folder=Path("unused"), platform_instance="lake", env="DEV")
    urns = {m.entityUrn for m in lineage_mcps(config, plan, _tables(), _run())}
    assert (
        "urn:li:dataset:(urn:li:dataPlatform:iceberg,lake.market_data.stock_daily_bars,DEV)" in urns
    )
    assert "urn:li:dataset:(urn:li:dataPlatform:rest,polygon.daily_bars,DEV)" in urns


@pytest.mark.parametrize(
    ("kind", "datahub_type", "native"),
    [
        (T.StringType(), "StringType", "string"),
        (T.IntegerType(), "NumberType", "int"),
        (T.DecimalType(18, 4), "NumberType", "decimal(18,4)"),
        (T.BooleanType(), "BooleanType", "boolean"),
        (T.DateType(), "DateType", "date"),
        (T.TimestampType(), "TimeType", "timestamp"),
        (T.TimestampNTZType(), "TimeType", "timestamp_ntz"),
        (T.BinaryType(), "BytesType", "binary"),
        (T.ArrayType(T.StringType()), "ArrayType", "array<string>"),
        (T.MapType(T.StringType(), T.LongType()), "MapType", "map<string,bigint>"),
        (T.StructType([T.StructField("a", T.LongType())]), "RecordType", "struct<a:bigint>"),
        (T.DayTimeIntervalType(), "NullType", "interval day to second"),
    ],
)
def test_spark_types_become_datahub_types(
    plan: SparkPlan, kind: T.DataType, datahub_type: str, native: str
) -> None:
    schema = T.StructType([T.StructField("c", kind)])
    table = OutputTable("ns.t", schema)
    mcps = lineage_mcps(LineageConfig(folder=Path("x")), plan, [table], _run())
    (schema_mcp,) = [m for m in mcps if m.aspectName == "schemaMetadata"]
    (column,) = schema_mcp.to_obj(simplified_structure=True)["aspect"]["json"]["fields"]
    assert column["nativeDataType"] == native
    assert list(column["type"]["type"]) == [f"com.linkedin.schema.{datahub_type}"]


def _datahub_ingest(tmp_path: Path, source: Path) -> list[dict[str, Any]]:
    """Runs the `datahub ingest` CLI (file source → file sink); returns what the sink wrote."""
    out = tmp_path / "ingested.json"
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        json.dumps(
            {
                "source": {"type": "file", "config": {"path": str(source)}},
                "sink": {"type": "file", "config": {"filename": str(out)}},
            }
        )
    )
    # The CLI's own entry point, with its release check off: that check calls PyPI and GitHub,
    # which tests must not (telemetry is off through its documented variable).
    launcher = (
        "import sys, datahub.upgrade.upgrade as upgrade\n"
        "upgrade.check_upgrade_post = lambda *args, **kwargs: None\n"
        "from datahub.entrypoints import main\n"
        "sys.argv = ['datahub', 'ingest', '-c', sys.argv[1]]\n"
        "main()\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "DATAHUB_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", launcher, str(recipe)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Pipeline finished successfully" in done.stdout + done.stderr
    records: list[dict[str, Any]] = json.loads(out.read_text())
    return records


def test_files_round_trip_through_datahub_ingest(plan: SparkPlan, tmp_path: Path) -> None:
    folder = tmp_path / "lineage"
    config = LineageConfig(folder=folder)
    first = emit_run_lineage(config, plan, _tables(7), _run("run-1"))
    second = emit_run_lineage(config, plan, _tables(8), _run("run-2"))
    # One file per run: a run never rewrites another's proposals.
    assert sorted(path.name for path in folder.iterdir()) == ["run-1.json", "run-2.json"]
    assert len(json.loads(config.run_file("run-2").read_text())) == len(second) == 13
    # The same run described again replaces its own file.
    emit_run_lineage(config, plan, _tables(9), _run("run-1"))
    assert len(json.loads(config.run_file("run-1").read_text())) == len(first)

    records = _datahub_ingest(tmp_path, folder)

    assert len(records) == 26
    aspects = _aspects(records)
    _check_lineage(aspects)
    runs = _run_urn(aspects)
    assert len(runs) == 2
    snapshots = {
        aspects[(run, "dataProcessInstanceProperties")][0]["name"]: aspects[
            (run, "dataProcessInstanceProperties")
        ][0]["customProperties"]["snapshot_id.market_data.stock_daily_bars"]
        for run in runs
    }
    assert snapshots == {"run-1": "9", "run-2": "8"}


def test_a_run_id_cannot_name_a_file_outside_the_folder(tmp_path: Path) -> None:
    config = LineageConfig(folder=tmp_path)
    assert config.run_file("../../etc/x").parent == tmp_path


@dataclass
class FakeGms:
    """What the loopback GMS received; `config_status` makes its /config probe fail."""

    url: str = ""
    config_status: int = 200
    no_code: bool = True
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def proposals(self) -> list[dict[str, Any]]:
        found = []
        for method, path, _, body in self.requests:
            if (method, path) == ("POST", "/aspects?action=ingestProposalBatch"):
                payload = json.loads(body)
                assert payload["async"] == "false"
                found += payload["proposals"]
        return found


def _gms_app(gms: FakeGms) -> Starlette:
    """GMS's Rest.li endpoints that DatahubRestEmitter (openapi_ingestion off) calls."""

    async def record(request: Request) -> None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        gms.requests.append((request.method, path, dict(request.headers), await request.body()))

    async def config(request: Request) -> JSONResponse:
        await record(request)
        if gms.config_status != 200:
            return JSONResponse({"message": "Unauthorized"}, gms.config_status)
        body: dict[str, Any] = {"versions": {"acryldata/datahub": {"version": "v1.3.0"}}}
        if gms.no_code:
            body["noCode"] = "true"
        return JSONResponse(body)

    async def aspects(request: Request) -> JSONResponse:
        await record(request)
        if request.query_params.get("action") != "ingestProposalBatch":
            return JSONResponse({"message": "unknown action"}, 400)
        return JSONResponse({})

    return Starlette(
        routes=[Route("/config", config), Route("/aspects", aspects, methods=["POST"])]
    )


@pytest.fixture
def gms() -> Iterator[FakeGms]:
    """A real HTTP server on loopback answering like DataHub's GMS."""
    state = FakeGms()
    with serve_asgi(_gms_app(state)) as url:
        state.url = url
        yield state


def test_rest_emitter_sends_proposals_to_gms(plan: SparkPlan, gms: FakeGms) -> None:
    config = LineageConfig(gms_url=gms.url, token=SecretStr("a-datahub-token"))
    sent = emit_run_lineage(config, plan, _tables(), _run())

    assert [(m, p) for m, p, _, _ in gms.requests] == [
        ("GET", "/config"),
        ("POST", "/aspects?action=ingestProposalBatch"),
    ]
    proposals = gms.proposals()
    assert [(p["entityUrn"], p["aspectName"]) for p in proposals] == [
        (m.entityUrn, m.aspectName) for m in sent
    ]
    assert all(p["changeType"] == "UPSERT" for p in proposals)
    assert all(h["authorization"] == "Bearer a-datahub-token" for _, _, h, _ in gms.requests)
    _check_lineage(_aspects(proposals))


@pytest.mark.parametrize(
    ("status", "no_code", "message"),
    [
        (401, True, "authentication error"),
        (200, False, "connected to the frontend service"),
    ],
)
def test_rest_refusal_is_a_lineage_error(
    plan: SparkPlan, gms: FakeGms, status: int, no_code: bool, message: str
) -> None:
    gms.config_status, gms.no_code = status, no_code
    with pytest.raises(LineageError, match=message):
        emit_run_lineage(LineageConfig(gms_url=gms.url), plan, _tables(), _run())
    assert gms.proposals() == []


def test_no_secret_value_in_lineage(
    plan: SparkPlan, gms: FakeGms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan's credential comes from this variable, as in a real run.
    monkeypatch.setenv("POLYGON_API_KEY", CANARY)
    redact = Redactor()
    for reference in plan.secrets.values():
        redact.add(resolve(reference, DEFAULT_GRANTS.for_tenant(plan.spec.tenant_id)))
    # Values that reach lineage and could carry the key: a URL with user info and a query
    # parameter, and a run property.
    endpoint = plan.endpoints[0].model_copy(
        update={"url": f"https://key:{CANARY}@api.polygon.io/v2/aggs?apiKey={CANARY}"}
    )
    leaky = plan.model_copy(update={"endpoints": [endpoint]})
    run = _run(request=f"GET /v2/aggs?apiKey={CANARY}")
    config = LineageConfig(folder=tmp_path)
    path = config.run_file(run.run_id)

    emit_run_lineage(config, leaky, _tables(), run, redact)
    emit_run_lineage(
        LineageConfig(gms_url=gms.url, token=SecretStr(CANARY)), leaky, _tables(), run, redact
    )

    text = path.read_text()
    assert CANARY not in text
    assert "GET /v2/aggs?apiKey=***" in text  # masked, not dropped
    assert "https://api.polygon.io/v2/aggs" in text
    bodies = b"".join(body for _, _, _, body in gms.requests)
    assert gms.proposals() and CANARY.encode() not in bodies
    # The token is a credential for GMS: it travels in the header only.
    assert all(h["authorization"] == f"Bearer {CANARY}" for _, _, h, _ in gms.requests)


def test_config_needs_a_destination_and_hides_its_token() -> None:
    with pytest.raises(ValueError, match="lineage needs a destination"):
        LineageConfig()
    assert CANARY not in repr(LineageConfig(gms_url="http://gms:8080", token=SecretStr(CANARY)))
