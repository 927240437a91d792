"""`headwater …`: the command line, and the composition root that wires components together."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from headwater import (
    api_commands,
    polygon_commands,
    run_commands,
    uis_commands,
    worker_commands,
)
from headwater.settings import Settings

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headwater", description="Headwater: ingestion of API sources into Iceberg."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    uis_commands.register(commands)
    api_commands.register(commands)
    polygon_commands.register(commands)
    run_commands.register(commands)
    worker_commands.register(commands)
    up = commands.add_parser("up", help="migrate, print a first admin key once, serve the API")
    up.set_defaults(handler=_up)
    return parser


def _up(args: argparse.Namespace) -> int:
    # `make up` has started PostgreSQL; the platform grows issue by issue, and this says
    # plainly what runs today.
    from api import db

    settings = Settings()
    asyncio.run(db.upgrade(settings.database))
    token = asyncio.run(api_commands.first_admin_key(settings.database))
    if token is not None:
        print(f"First admin API key (shown once; keep it, create others with it):\n  {token}\n")
    print(
        f"GraphQL API: http://{settings.api_host}:{settings.api_port}/graphql\n"
        f"Trino (catalog iceberg): {settings.trino_url}; "
        f"S3 server: {settings.object_store_config().endpoint}\n"
        "Not built yet: the runner and scheduler, and the Reflex portal.",
        flush=True,
    )
    return api_commands.serve(settings.api_host, settings.api_port)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `headwater` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except uis_commands.UsageError as exc:
        print(f"headwater: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return code


if __name__ == "__main__":  # pragma: no cover - `python -m headwater.cli`
    sys.exit(main())
