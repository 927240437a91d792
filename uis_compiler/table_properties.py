"""The Iceberg table properties a spec may set: known names, each with a checked value.

A spec is a tenant's input. Properties that move a table's files (`location`,
`write.data.path`, `write.metadata.path`, object-storage paths) would let it write where its
tenant may not, or over another table's files; unknown names could switch on anything a later
Iceberg release adds. Validation reports what is refused (UIS-E082), the plan model refuses it
again, and the job sets the values through Iceberg's API, never by splicing them into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_INT = re.compile(r"^[0-9]{1,18}$")


def _choice(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in allowed else f"is one of {', '.join(allowed)}"

    return check


def _integer(value: str) -> str | None:
    return None if _INT.match(value) else "is a whole number"


_BOOLEAN = _choice("true", "false")
_CODEC = _choice("zstd", "snappy", "gzip", "lz4", "brotli", "uncompressed", "none")
_ROW_LEVEL = _choice("copy-on-write", "merge-on-read")

#: Name → what its value must be (None when it is fine, else what it must be).
ALLOWED: Mapping[str, Callable[[str], str | None]] = {
    "format-version": _choice("1", "2", "3"),
    "write.format.default": _choice("parquet", "avro", "orc"),
    "write.parquet.compression-codec": _CODEC,
    "write.parquet.compression-level": _integer,
    "write.parquet.row-group-size-bytes": _integer,
    "write.parquet.page-size-bytes": _integer,
    "write.avro.compression-codec": _CODEC,
    "write.target-file-size-bytes": _integer,
    "write.distribution-mode": _choice("none", "hash", "range"),
    "write.delete.mode": _ROW_LEVEL,
    "write.update.mode": _ROW_LEVEL,
    "write.merge.mode": _ROW_LEVEL,
    "write.metadata.delete-after-commit.enabled": _BOOLEAN,
    "write.metadata.previous-versions-max": _integer,
    "write.metadata.metrics.default": _choice("none", "counts", "truncate(16)", "full"),
    "commit.retry.num-retries": _integer,
    "commit.retry.min-wait-ms": _integer,
    "commit.retry.max-wait-ms": _integer,
    "history.expire.max-snapshot-age-ms": _integer,
    "history.expire.min-snapshots-to-keep": _integer,
    "read.split.target-size": _integer,
    "write.wap.enabled": _BOOLEAN,
}
HINT = "allowed: " + ", ".join(sorted(ALLOWED))
#: Names that place files; refused with their own reason.
_PLACES_FILES = ("location", "write.data.path", "write.metadata.path", "write.object-storage")


def refused(properties: Mapping[str, object]) -> list[tuple[str, str]]:
    """Each property the spec may not set, with why."""
    found: list[tuple[str, str]] = []
    for name, raw in properties.items():
        value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if name.startswith(_PLACES_FILES) or name.endswith((".path", ".location")):
            found.append((name, f"`{name}` places the table's files; the platform does"))
        elif name not in ALLOWED:
            found.append((name, f"`{name}` is not a table property a spec may set"))
        else:
            why = ALLOWED[name](value)
            if why is not None:
                found.append((name, f"`{name}` {why}, not `{value[:40]}`"))
    return found
