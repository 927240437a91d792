"""``python -m standins.polygon CONFIG_JSON``: the child process of ``start_process``."""

from __future__ import annotations

import json
import logging
import sys

from standins.polygon.config import SimConfig
from standins.polygon.server import serve


def main(argv: list[str]) -> int:
    """Serve with the SimConfig given as JSON (its ``to_mapping`` form)."""
    if len(argv) != 1:
        print("usage: python -m standins.polygon CONFIG_JSON", file=sys.stderr)
        return 2
    config = SimConfig.from_mapping(json.loads(argv[0]))
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return serve(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
