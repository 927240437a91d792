"""`headwater …`: the command line, and the composition root that wires components together."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from headwater import (
    api_commands,
    polygon_commands,
    run_commands,
    uis_commands,
    up_commands,
    worker_commands,
)

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
    up_commands.register(commands)
    return parser


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
