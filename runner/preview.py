"""The first rows of a provider's table: through Trino when it is configured, else the catalog.

The catalog path reads the same JDBC catalog Spark writes (pyiceberg's SqlCatalog), so a preview
works on a machine without Trino or Spark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runner.config import CATALOG_NAME, ObjectStoreConfig

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class PreviewConfig:
    """Where to read: Trino's address (optional) and the Iceberg catalog's database."""

    catalog_database_url: str
    warehouse: str
    trino_host: str | None = None
    trino_port: int = 8085
    object_store: ObjectStoreConfig | None = None


def _parts(table: str) -> tuple[str, str]:
    namespace, _, name = table.partition(".")
    if not (_IDENTIFIER.match(namespace) and _IDENTIFIER.match(name)):
        raise ValueError(f"`{table}` is not namespace.table")
    return namespace, name


def preview(table: str, config: PreviewConfig, limit: int = 20) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``namespace.table``, as dicts."""
    namespace, name = _parts(table)
    if config.trino_host is not None:
        return _trino(config, namespace, name, limit)
    return _catalog(config, namespace, name, limit)


def _trino(config: PreviewConfig, namespace: str, name: str, limit: int) -> list[dict[str, Any]]:
    import trino

    connection = trino.dbapi.connect(  # type: ignore[no-untyped-call]
        host=config.trino_host, port=config.trino_port, user="headwater", catalog="iceberg"
    )
    try:
        cursor = connection.cursor()
        # Identifiers were checked above; the limit is an int.
        cursor.execute(f'SELECT * FROM iceberg."{namespace}"."{name}" LIMIT {int(limit)}')
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description]
    finally:
        connection.close()
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _catalog(config: PreviewConfig, namespace: str, name: str, limit: int) -> list[dict[str, Any]]:
    from pyiceberg.catalog.sql import SqlCatalog

    properties = {"uri": config.catalog_database_url, "warehouse": config.warehouse}
    store = config.object_store
    if store is not None:
        properties |= {
            "s3.endpoint": store.endpoint,
            "s3.access-key-id": store.access_key,
            "s3.secret-access-key": store.secret_key.get_secret_value(),
            "s3.region": store.region,
            "s3.path-style-access": "true",
        }
    catalog = SqlCatalog(CATALOG_NAME, **properties)
    table = catalog.load_table((namespace, name))
    rows: list[dict[str, Any]] = table.scan(limit=limit).to_arrow().to_pylist()
    return rows
