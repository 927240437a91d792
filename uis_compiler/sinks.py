"""Sinks interpreted: which view each writes, how, and how its table is partitioned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from uis_compiler.models import Sink, Spec

WriteMode = Literal["append", "merge", "overwrite_partitions"]
WRITE_MODES: tuple[WriteMode, ...] = ("append", "merge", "overwrite_partitions")

#: Keys of an Iceberg sink's ``config`` (anything else is probably a typo).
ICEBERG_KEYS = frozenset(
    {"write_mode", "primary_key", "format-version", "catalog", "warehouse", "source",
     "source_table_name", "properties"}
)  # fmt: skip
#: Settings each sink type cannot do without: (where, key) with where "config" or "sink".
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "iceberg": (),
    "parquet": (("config.path",),),
    "postgres": (("config.url",), ("table_name", "config.table")),
    "kafka": (("config.bootstrap_servers",), ("kafka_topic", "config.topic")),
    "clickhouse": (("config.host",), ("clickhouse_table", "table_name")),
    "elasticsearch": (("config.hosts",), ("config.index",)),
}

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE = re.compile(rf"^{_IDENT}\.{_IDENT}$")
_PARTITION = re.compile(
    rf"^\s*(?:(?P<fn>identity|years|months|days|hours)\(\s*(?P<col>{_IDENT})\s*\)"
    rf"|(?P<nfn>bucket|truncate)\(\s*(?P<n>\d+)\s*,\s*(?P<ncol>{_IDENT})\s*\)"
    rf"|(?P<plain>{_IDENT}))\s*$"
)


@dataclass(frozen=True, slots=True)
class PartitionField:
    """One partition_by entry: an Iceberg transform of a column (``identity`` for a plain one)."""

    transform: str
    column: str
    width: int | None = None

    @property
    def expression(self) -> str:
        """The Spark/Iceberg DDL form: ``months(bar_date)``, ``bucket(16, ticker)``."""
        if self.transform == "identity":
            return self.column
        if self.width is not None:
            return f"{self.transform}({self.width}, {self.column})"
        return f"{self.transform}({self.column})"


#: Partition transforms of a point in time: their column carries the rows' dates.
TIME_TRANSFORMS = frozenset({"years", "months", "days", "hours"})


def parse_partition(text: str) -> PartitionField:
    """Parse ``days(ts)``, ``bucket(16, id)`` or a column name; raises ValueError."""
    match = _PARTITION.match(text)
    if match is None:
        raise ValueError(
            f"`{text}` is not a column or an Iceberg transform: use `col`, `years(col)`, "
            "`months(col)`, `days(col)`, `hours(col)`, `bucket(N, col)` or `truncate(N, col)`"
        )
    if match.group("plain"):
        return PartitionField("identity", match.group("plain"))
    if match.group("fn"):
        return PartitionField(match.group("fn"), match.group("col"))
    return PartitionField(match.group("nfn"), match.group("ncol"), int(match.group("n")))


def window_column(partition_by: list[str]) -> str | None:
    """The column that carries a row's date: the first time transform's (``months(bar_date)``).

    ``overwrite_partitions`` replaces the rows whose value there falls in the run's window;
    without one it can only replace whole partitions. Entries that do not parse are skipped
    (validation reports them).
    """
    for text in partition_by:
        try:
            field = parse_partition(text)
        except ValueError:
            continue
        if field.transform in TIME_TRANSFORMS:
            return field.column
    return None


def is_table_name(text: str | None) -> bool:
    return text is not None and bool(_TABLE.match(text))


def source_view(spec: Spec, sink: Sink) -> str | None:
    """The view a sink writes: config.source, else the last transform, else the first endpoint."""
    named = sink.config.get("source", sink.config.get("source_table_name"))
    if isinstance(named, str):
        return named
    provider = spec.provider
    if provider.transforms:
        return provider.transforms[-1].name
    active = provider.active_endpoints
    return active[0].name if active else None


def primary_key(sink: Sink) -> list[str]:
    """``config.primary_key`` as a list (a single column may be written as text)."""
    value: Any = sink.config.get("primary_key")
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part) for part in value]
    return []


def write_mode(sink: Sink) -> str:
    return str(sink.config.get("write_mode", "append"))


def setting(sink: Sink, dotted: str) -> Any:
    """A sink setting named ``config.key`` or ``field``."""
    if dotted.startswith("config."):
        return sink.config.get(dotted.removeprefix("config."))
    return getattr(sink, dotted)
