"""Database wiring: the Tortoise configuration, start-up and shutdown, and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tortoise import Tortoise
from tortoise.migrations.api import migrate

import migrations

APP = "models"
MIGRATIONS = "migrations"


def tortoise_config(database_url: str, *, pool_size: int = 20) -> dict[str, Any]:
    """The Tortoise configuration for ``database_url`` (``postgres://user@host:port/db``)."""
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.asyncpg",
                "credentials": _credentials(database_url, pool_size),
            }
        },
        "apps": {
            APP: {
                "models": ["api.models"],
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _credentials(url: str, pool_size: int) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ValueError(f"`{url}` is not a postgres:// URL")
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/") or "postgres",
        "minsize": 1,
        "maxsize": pool_size,
    }


async def connect(database_url: str, *, pool_size: int = 20) -> None:
    """Open the connection pool and register the models."""
    await Tortoise.init(config=tortoise_config(database_url, pool_size=pool_size))


async def disconnect() -> None:
    await Tortoise.close_connections()


async def upgrade(database_url: str) -> None:
    """Apply every pending migration."""
    await migrate(config=tortoise_config(database_url, pool_size=2), direction="forward")
    await Tortoise.close_connections()


def previous_migration() -> str:
    """The migration before the latest one (what `downgrade` undoes the latest step to)."""
    names = sorted(
        path.stem for path in Path(migrations.__file__).parent.glob("[0-9][0-9][0-9][0-9]_*.py")
    )
    return names[-2] if len(names) > 1 else "__first__"


async def downgrade(database_url: str, target: str) -> None:
    """Unapply migrations down to ``target`` (e.g. ``0001_initial``)."""
    await migrate(
        config=tortoise_config(database_url, pool_size=2),
        target=f"{APP}.{target}",
        direction="backward",
    )
    await Tortoise.close_connections()
