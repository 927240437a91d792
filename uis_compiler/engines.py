"""Which engine runs a spec, and what each engine can read, run and write."""

from __future__ import annotations

from dataclasses import dataclass

from uis_compiler.models import Mode, ProviderType, SinkType, Spec, TransformType
from uis_compiler.types import Engine


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one engine supports, as compiled by Headwater."""

    sources: frozenset[ProviderType]
    modes: frozenset[Mode]
    transforms: frozenset[TransformType]
    sinks: frozenset[SinkType]


CAPABILITIES: dict[Engine, Capabilities] = {
    # The Spark plan feeds Headwater's own HTTP ingest job (runner), batch or micro-batch.
    "spark": Capabilities(
        sources=frozenset({"rest_api", "graphql"}),
        modes=frozenset({"batch", "micro_batch"}),
        transforms=frozenset({"sql", "spark", "python"}),
        sinks=frozenset({"iceberg", "parquet", "postgres"}),
    ),
    # Flink SQL has connectors for Kafka, JDBC databases and file systems; none for HTTP, and
    # no Elasticsearch connector released for Flink 2.x.
    "flink": Capabilities(
        sources=frozenset({"kafka", "database", "s3"}),
        modes=frozenset({"streaming", "micro_batch", "batch"}),
        transforms=frozenset({"sql", "flink"}),
        sinks=frozenset({"iceberg", "kafka", "postgres", "parquet"}),
    ),
    # SeaTunnel's connector-v2 plugins: Http, Kafka, Jdbc, S3File, FtpFile sources.
    "seatunnel": Capabilities(
        sources=frozenset({"rest_api", "graphql", "kafka", "database", "s3", "file_ftp"}),
        modes=frozenset({"batch", "micro_batch", "streaming"}),
        transforms=frozenset({"sql"}),
        sinks=frozenset({"iceberg", "parquet", "postgres", "kafka", "clickhouse", "elasticsearch"}),
    ),
}

_STREAMING_MODES = frozenset({"streaming", "websocket", "webhook", "graphql_subscription"})


def choose_engine(spec: Spec) -> Engine:
    """`config.execution_engine` if set; batch and micro-batch → Spark; streaming → Flink."""
    chosen = spec.provider.settings.execution_engine
    if chosen is not None:
        return chosen
    return "flink" if spec.provider.mode in _STREAMING_MODES else "spark"
