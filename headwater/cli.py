"""`headwater …`: the command line, and the composition root that wires components together."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from headwater import uis_commands

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headwater", description="Headwater: ingestion of API sources into Iceberg."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    uis_commands.register(commands)
    up = commands.add_parser("up", help="run the platform with its embedded defaults")
    up.set_defaults(handler=_up)
    return parser


def _up(_: argparse.Namespace) -> int:
    # The platform grows issue by issue; this says plainly what runs today.
    print(
        "Headwater is not runnable as a platform yet.\n"
        "Built: the UIS compiler — try `headwater uis validate uis_compiler/examples/"
        "polygon_stock_daily_bars.yaml` or `headwater uis compile … --engine spark`.\n"
        "Not built yet: the GraphQL API on PostgreSQL, the Spark/Iceberg data plane with its "
        "local stack (PostgreSQL, S3 server, Trino), the runner, and the Reflex portal."
    )
    return 0


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
