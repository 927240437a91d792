"""Engine rules: the chosen engine can read this source, run this mode, transforms and sinks."""

from __future__ import annotations

from uis_compiler import codes
from uis_compiler.engines import CAPABILITIES, Capabilities
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.types import ENGINES, Engine

_PUSH_HINT = "let the receiver write into a Kafka topic and read the topic with Flink"
#: Advice better than "use another engine" for what an engine cannot do.
_HINTS: dict[tuple[Engine, str], str] = {
    **{
        (engine, kind): _PUSH_HINT
        for engine in ENGINES
        for kind in ("websocket", "webhook", "graphql_subscription")
    },
    ("flink", "rest_api"): "run HTTP sources on Spark (`execution_engine: spark`) or SeaTunnel, "
    "or land the records in a Kafka topic first and read that with Flink",
    ("flink", "graphql"): "run GraphQL sources on Spark (`execution_engine: spark`) or "
    "SeaTunnel, or land the records in a Kafka topic first and read that with Flink",
    ("flink", "elasticsearch"): "no Elasticsearch connector is released for Flink 2.x: write to "
    "a Kafka sink and index from the topic, or run the spec on SeaTunnel",
    ("flink", "python"): "rewrite it as a `sql` transform, or run the spec on Spark",
    ("spark", "wasm"): "rewrite it as a `sql` or `python` transform",
    ("spark", "streaming"): "use `mode: micro_batch` for periodic runs on Spark, or Flink for a "
    "Kafka source",
}


def _others(engine: Engine, supports: str, value: str) -> str:
    special = _HINTS.get((engine, value))
    if special is not None:
        return special
    able = [
        other
        for other in ENGINES
        if other != engine and value in getattr(CAPABILITIES[other], supports)
    ]
    if not able:
        return "no engine Headwater compiles to supports it"
    return "set `provider.config.execution_engine` to " + " or ".join(able)


def check_engine(ctx: Context) -> None:
    engine = ctx.engine
    caps: Capabilities = CAPABILITIES[engine]
    provider = ctx.spec.provider
    if provider.provider_type not in caps.sources:
        ctx.report(
            codes.SOURCE_ENGINE_UNSUPPORTED,
            (*PROVIDER, "provider_type"),
            f"the {engine} engine cannot read a `{provider.provider_type}` provider",
            _others(engine, "sources", provider.provider_type),
        )
    if provider.mode not in caps.modes:
        ctx.report(
            codes.MODE_ENGINE_UNSUPPORTED,
            (*PROVIDER, "mode"),
            f"the {engine} engine cannot run `mode: {provider.mode}`",
            _others(engine, "modes", provider.mode),
        )
    for index, transform in enumerate(provider.transforms):
        if transform.type not in caps.transforms:
            ctx.report(
                codes.TRANSFORM_ENGINE_UNSUPPORTED,
                (*PROVIDER, "transforms", index, "type"),
                f"the {engine} engine cannot run a `{transform.type}` transform "
                f"(`{transform.name}`)",
                _others(engine, "transforms", transform.type),
            )
    for index, sink in enumerate(provider.sinks):
        if sink.type not in caps.sinks:
            ctx.report(
                codes.SINK_ENGINE_UNSUPPORTED,
                (*PROVIDER, "sinks", index, "type"),
                f"the {engine} engine cannot write a `{sink.type}` sink",
                _others(engine, "sinks", sink.type),
            )
