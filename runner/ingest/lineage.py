"""A run's lineage as DataHub metadata change proposals: to a DataHub server, else to a JSON file.

Entities: one `rest` dataset per endpoint, one dataset per table written, with its schema
(`iceberg`; `file` for a Parquet folder; `postgres`), a DataFlow per provider, a DataJob per spec (inputs → outputs) and a
DataProcessInstance per run. Every proposal passes the run's Redactor before it leaves the job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from datahub.configuration.common import ConfigurationError, OperationalError
from datahub.emitter import mce_builder as builder
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.emitter.rest_emitter import DatahubRestEmitter
from datahub.ingestion.sink.file import write_metadata_file
from datahub.metadata import schema_classes as m
from pydantic import SecretStr
from pyspark.sql import types as T

from runner.ingest.secrets import Redactor
from uis_compiler.plan import Endpoint, Sink, SparkPlan

#: One platform for every HTTP API: provider names are user-chosen, and as platforms they could
#: clash with real ones (a provider named `iceberg`) and would add a platform per provider.
SOURCE_PLATFORM = "rest"
TABLE_PLATFORM = "iceberg"
ORCHESTRATOR = "headwater"
ACTOR = "urn:li:corpuser:headwater"

MCP = MetadataChangeProposalWrapper


class LineageError(RuntimeError):
    """Lineage could not be delivered (the run's data is committed regardless)."""


@dataclass(frozen=True, slots=True)
class LineageConfig:
    """Where lineage goes: DataHub's GMS when `gms_url` is set, else JSON files in `folder`
    (one per run, which `datahub ingest` reads with a `file` source pointed at the folder)."""

    gms_url: str | None = None
    token: SecretStr | None = None
    folder: Path | None = None
    env: str = "PROD"
    #: The Iceberg catalog's platform instance in DataHub, so URNs match its Iceberg connector's.
    platform_instance: str | None = None
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.gms_url and self.folder is None:
            raise ValueError(
                "lineage needs a destination: set gms_url (DataHub GMS, e.g. "
                "http://datahub-gms:8080) or folder (JSON files for `datahub ingest`)"
            )

    def run_file(self, run_id: str) -> Path:
        """The file a run's proposals go to (a new run never rewrites another's)."""
        assert self.folder is not None
        return self.folder / f"{quote(run_id, safe='')}.json"


@dataclass(frozen=True, slots=True)
class OutputTable:
    """A table the run wrote, with its Spark schema: an Iceberg `namespace.table` by default,
    else a Parquet folder (`file`, named by its path) or a PostgreSQL `database.schema.table`."""

    name: str
    schema: T.StructType
    snapshot_id: int | None = None
    platform: str = "iceberg"
    sink: Sink | None = None

    @classmethod
    def of(cls, table: str, schema: T.StructType, snapshot_id: int | None = None) -> OutputTable:
        """From `catalog.namespace.table` (`Written.table`): DataHub leaves the catalog out."""
        return cls(table.split(".", 1)[-1], schema, snapshot_id)


_FieldKind = (
    m.StringTypeClass
    | m.BooleanTypeClass
    | m.NumberTypeClass
    | m.DateTypeClass
    | m.TimeTypeClass
    | m.BytesTypeClass
    | m.ArrayTypeClass
    | m.MapTypeClass
    | m.RecordTypeClass
    | m.NullTypeClass
)
_SPARK_TYPES: dict[type[T.DataType], type[_FieldKind]] = {
    T.StringType: m.StringTypeClass,
    T.VarcharType: m.StringTypeClass,
    T.CharType: m.StringTypeClass,
    T.BooleanType: m.BooleanTypeClass,
    T.ByteType: m.NumberTypeClass,
    T.ShortType: m.NumberTypeClass,
    T.IntegerType: m.NumberTypeClass,
    T.LongType: m.NumberTypeClass,
    T.FloatType: m.NumberTypeClass,
    T.DoubleType: m.NumberTypeClass,
    T.DecimalType: m.NumberTypeClass,
    T.DateType: m.DateTypeClass,
    T.TimestampType: m.TimeTypeClass,
    T.TimestampNTZType: m.TimeTypeClass,
    T.BinaryType: m.BytesTypeClass,
    T.ArrayType: m.ArrayTypeClass,
    T.MapType: m.MapTypeClass,
    T.StructType: m.RecordTypeClass,
}


def _field_type(kind: T.DataType) -> m.SchemaFieldDataTypeClass:
    # Types without a DataHub counterpart (intervals, variants) show as null-typed.
    wrapper = _SPARK_TYPES.get(type(kind), m.NullTypeClass)
    return m.SchemaFieldDataTypeClass(type=wrapper())


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _url_template(url: str) -> str:
    """scheme://host/path of an endpoint template: no user info, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _Urns:
    """The URNs of one plan's entities."""

    def __init__(self, plan: SparkPlan, config: LineageConfig) -> None:
        self.plan = plan
        self.env = config.env
        self.instance = config.platform_instance
        self.flow = builder.make_data_flow_urn(ORCHESTRATOR, plan.spec.provider, config.env)
        self.job = builder.make_data_job_urn_with_flow(self.flow, plan.spec.name)

    def source(self, endpoint: Endpoint) -> str:
        name = f"{self.plan.spec.provider}.{endpoint.name}"
        return builder.make_dataset_urn(SOURCE_PLATFORM, name, self.env)

    def table(self, table: OutputTable) -> str:
        # The platform instance names the Iceberg catalog; other platforms have none here.
        instance = self.instance if table.platform == TABLE_PLATFORM else None
        return builder.make_dataset_urn_with_platform_instance(
            table.platform, table.name, instance, self.env
        )

    def run(self, run_id: str) -> str:
        guid = builder.datahub_guid({"orchestrator": ORCHESTRATOR, "job": self.job, "run": run_id})
        return f"urn:li:dataProcessInstance:{guid}"


def _source_mcps(urns: _Urns, endpoint: Endpoint) -> list[MCP]:
    template = _url_template(endpoint.url)
    properties = {
        "provider": urns.plan.spec.provider,
        "method": endpoint.method,
        "url_template": template,
        "pagination": endpoint.pagination.mode,
        "response_path": endpoint.response_path,
        "fan_out": ",".join(endpoint.fan_out),
    }
    return MCP.construct_many(
        urns.source(endpoint),
        [
            m.DatasetPropertiesClass(
                name=endpoint.name,
                description=f"{endpoint.method} {template}",
                customProperties=properties,
            ),
            m.SubTypesClass(typeNames=["API Endpoint"]),
        ],
    )


def _sink_of(plan: SparkPlan, name: str) -> Sink | None:
    return next((s for s in plan.sinks if f"{s.namespace}.{s.table}" == name), None)


def _table_mcps(urns: _Urns, table: OutputTable) -> list[MCP]:
    sink = table.sink or _sink_of(urns.plan, table.name)
    keys = set(sink.primary_key) if sink else set()
    fields = [
        m.SchemaFieldClass(
            fieldPath=f.name,
            type=_field_type(f.dataType),
            nativeDataType=f.dataType.simpleString(),
            nullable=f.nullable,
            isPartOfKey=f.name in keys,
        )
        for f in table.schema.fields
    ]
    schema = m.SchemaMetadataClass(
        schemaName=table.name,
        platform=builder.make_data_platform_urn(table.platform),
        version=0,
        hash="",
        platformSchema=m.OtherSchemaClass(rawSchema=table.schema.simpleString()),
        fields=fields,
        primaryKeys=sorted(keys) or None,
    )
    properties = {"spec": urns.plan.spec.name}
    if sink is not None:
        properties |= {
            "write_mode": sink.write_mode,
            "partition_by": ",".join(sink.partition_by),
        }
        if table.platform == TABLE_PLATFORM:
            properties["format_version"] = str(sink.format_version)
    return MCP.construct_many(
        urns.table(table),
        [
            schema,
            m.DatasetPropertiesClass(name=table.name, customProperties=properties),
            m.SubTypesClass(typeNames=["Table"]),
        ],
    )


def _job_mcps(urns: _Urns, inputs: list[str], outputs: list[str]) -> list[MCP]:
    spec = urns.plan.spec
    flow = m.DataFlowInfoClass(
        name=spec.provider,
        description=spec.display_name,
        customProperties={"tenant_id": spec.tenant_id, "owner": spec.owner},
        env=urns.env,
    )
    job = m.DataJobInfoClass(
        name=spec.name,
        type="SPARK",
        flowUrn=urns.flow,
        customProperties={
            "uis_version": spec.uis_version,
            "plan_version": urns.plan.plan_version,
            "mode": urns.plan.mode,
        },
        env=urns.env,
    )
    io = m.DataJobInputOutputClass(
        inputDatasets=inputs,
        outputDatasets=outputs,
        inputDatasetEdges=[m.EdgeClass(destinationUrn=urn) for urn in inputs],
        outputDatasetEdges=[m.EdgeClass(destinationUrn=urn) for urn in outputs],
    )
    return [MCP(entityUrn=urns.flow, aspect=flow), *MCP.construct_many(urns.job, [job, io])]


@dataclass(frozen=True, slots=True)
class RunFacts:
    """The run the lineage is about."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    succeeded: bool = True
    scheduled: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)


def _run_mcps(
    urns: _Urns,
    run: RunFacts,
    inputs: list[str],
    outputs: list[str],
    tables: Sequence[OutputTable],
) -> list[MCP]:
    properties = dict(run.properties)
    for table in tables:
        if table.snapshot_id is not None:
            properties[f"snapshot_id.{table.name}"] = str(table.snapshot_id)
    kind = (
        m.DataProcessTypeClass.BATCH_SCHEDULED
        if run.scheduled
        else m.DataProcessTypeClass.BATCH_AD_HOC
    )
    result = m.RunResultTypeClass.SUCCESS if run.succeeded else m.RunResultTypeClass.FAILURE
    return MCP.construct_many(
        urns.run(run.run_id),
        [
            m.DataProcessInstancePropertiesClass(
                name=run.run_id,
                created=m.AuditStampClass(time=_millis(run.started_at), actor=ACTOR),
                type=kind,
                customProperties=properties,
            ),
            m.DataProcessInstanceRelationshipsClass(upstreamInstances=[], parentTemplate=urns.job),
            m.DataProcessInstanceInputClass(inputs=inputs),
            m.DataProcessInstanceOutputClass(outputs=outputs),
            m.DataProcessInstanceRunEventClass(
                timestampMillis=_millis(run.finished_at),
                status=m.DataProcessRunStatusClass.COMPLETE,
                result=m.DataProcessInstanceRunResultClass(
                    type=result, nativeResultType=ORCHESTRATOR
                ),
                durationMillis=max(0, _millis(run.finished_at) - _millis(run.started_at)),
            ),
        ],
    )


def _redacted(mcps: list[MCP], redact: Redactor) -> list[MCP]:
    """Each proposal with every secret value masked; plans hold none, but a run's values may."""
    out = []
    for mcp in mcps:
        assert mcp.aspect is not None and mcp.entityUrn is not None
        obj = mcp.aspect.to_obj()
        clean = redact.deep(obj)
        urn = redact(mcp.entityUrn)
        if clean == obj and urn == mcp.entityUrn:
            out.append(mcp)
        else:
            out.append(MCP(entityUrn=urn, aspect=type(mcp.aspect).from_obj(clean)))
    return out


def lineage_mcps(
    config: LineageConfig,
    plan: SparkPlan,
    tables: Sequence[OutputTable],
    run: RunFacts,
    redact: Redactor | None = None,
) -> list[MCP]:
    """Every proposal of one run: sources, tables with schemas, flow, job, and the run."""
    urns = _Urns(plan, config)
    inputs = [urns.source(endpoint) for endpoint in plan.endpoints]
    outputs = [urns.table(table) for table in tables]
    mcps = [mcp for endpoint in plan.endpoints for mcp in _source_mcps(urns, endpoint)]
    mcps += [mcp for table in tables for mcp in _table_mcps(urns, table)]
    mcps += _job_mcps(urns, inputs, outputs)
    mcps += _run_mcps(urns, run, inputs, outputs, tables)
    return _redacted(mcps, redact or Redactor())


def write_file(path: Path, mcps: Sequence[MCP]) -> None:
    """Writes one run's proposals as a JSON list, in the format of DataHub's file sink.

    One file per run, not one file for all: appending would rewrite every earlier run's
    proposals each time, which grows with the history. A reader never sees a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    write_metadata_file(partial, list(mcps))
    os.replace(partial, path)


def send_rest(config: LineageConfig, mcps: Sequence[MCP]) -> None:
    """Sends the proposals to DataHub's GMS in batches (Rest.li `ingestProposalBatch`)."""
    assert config.gms_url
    # Rest.li rather than OpenAPI: every GMS version serves it, and the choice is not left to
    # a probe of the server's features.
    emitter = DatahubRestEmitter(
        config.gms_url,
        token=config.token.get_secret_value() if config.token else None,
        timeout_sec=config.timeout_seconds,
        openapi_ingestion=False,
    )
    try:
        emitter.test_connection()
        emitter.emit_mcps(list(mcps))
    except (ConfigurationError, OperationalError, requests.RequestException) as exc:
        raise LineageError(f"DataHub at {config.gms_url} did not take the lineage: {exc}") from exc
    finally:
        emitter.close()


def emit_run_lineage(
    config: LineageConfig,
    plan: SparkPlan,
    tables: Sequence[OutputTable],
    run: RunFacts,
    redact: Redactor | None = None,
) -> list[MCP]:
    """Builds the run's proposals and delivers them; raises LineageError when delivery fails."""
    mcps = lineage_mcps(config, plan, tables, run, redact)
    if config.gms_url:
        send_rest(config, mcps)
    else:
        write_file(config.run_file(run.run_id), mcps)
    return mcps
