"""`headwater polygon-sim`: serve the local Polygon.io-compatible server."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any

from headwater.settings import Settings
from headwater.uis_commands import UsageError
from standins.polygon.config import SimConfig, parse_latency, parse_rate_limit
from standins.polygon.exceptions import SimConfigError


def register(commands: Any) -> None:
    sim = commands.add_parser(
        "polygon-sim",
        help="serve the local Polygon.io-compatible server (tests, benchmarks, demo)",
        description="Deterministic daily bars and reference tickers over Polygon's REST protocol, "
        "with auth, an optional rate limit and injected faults. Options override the "
        "HEADWATER_POLYGON_SIM_* settings. The first line printed is the server's URL.",
    )
    sim.add_argument("--host", help="listen address (default 127.0.0.1)")
    sim.add_argument("--port", type=int, help="port, 0 for any free one (default 8010)")
    sim.add_argument("--keys", metavar="K1,K2", help="accepted API keys, comma-separated")
    sim.add_argument(
        "--rate-limit", metavar="N/UNIT", help="per key, e.g. 5/min or 100/s; 'off' for none"
    )
    sim.add_argument(
        "--tickers", type=int, metavar="N", help="size of the reference-ticker universe"
    )
    sim.add_argument(
        "--fractional-volume",
        metavar="T1,T2",
        help="tickers whose volume is fractional, comma-separated",
    )
    sim.add_argument(
        "--forbidden",
        metavar="T1,T2",
        help="tickers answered with 403 NOT_AUTHORIZED, comma-separated",
    )
    sim.add_argument("--fault-5xx", type=float, metavar="P", help="probability of a 5xx answer")
    sim.add_argument(
        "--fault-statuses",
        metavar="S1,S2",
        help="the 5xx statuses to pick from (default 500,502,503)",
    )
    sim.add_argument("--fault-malformed", type=float, metavar="P", help="probability of a cut body")
    sim.add_argument("--fault-reset", type=float, metavar="P", help="probability of a TCP reset")
    sim.add_argument("--latency-ms", metavar="MS", help="added delay: 200, or a range 100-500")
    sim.add_argument("--slow-rate", type=float, metavar="P", help="share of requests delayed")
    sim.add_argument("--seed", type=int, help="seed of the fault draws (default: unseeded)")
    sim.add_argument(
        "--control",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve /_control/stats, /_control/faults and /_control/reset",
    )
    sim.set_defaults(handler=_serve)


def sim_config(args: argparse.Namespace, settings: Settings) -> SimConfig:
    """The settings, overridden by the options given on the command line."""
    try:
        base = settings.polygon_sim_config()
        faults = base.faults
        fault_changes: dict[str, Any] = _given(
            error_rate=args.fault_5xx,
            error_statuses=_ints(args.fault_statuses),
            malformed_rate=args.fault_malformed,
            reset_rate=args.fault_reset,
            slow_rate=args.slow_rate,
            seed=args.seed,
        )
        if args.latency_ms is not None:
            fault_changes["latency_ms"] = parse_latency(args.latency_ms)
        changes: dict[str, Any] = _given(
            host=args.host,
            port=args.port,
            keys=_names(args.keys),
            universe_size=args.tickers,
            fractional_volume=_set(args.fractional_volume),
            forbidden=_set(args.forbidden),
            control=args.control,
        )
        if args.rate_limit is not None:
            changes["rate_limit"] = parse_rate_limit(args.rate_limit)
        return dataclasses.replace(
            base, faults=dataclasses.replace(faults, **fault_changes), **changes
        )
    except SimConfigError as exc:
        raise UsageError(str(exc)) from exc


def _serve(args: argparse.Namespace) -> int:
    # Imported here: `headwater uis …` should not pay for importing the server stack.
    from standins.polygon.server import serve

    settings = Settings()
    config = sim_config(args, settings)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return serve(config)


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _set(text: str | None) -> frozenset[str] | None:
    names = _names(text)
    return None if names is None else frozenset(names)


def _ints(text: str | None) -> tuple[int, ...] | None:
    names = _names(text)
    if names is None:
        return None
    try:
        return tuple(int(name) for name in names)
    except ValueError:
        raise UsageError(
            f"--fault-statuses: {text!r} is not a comma-separated list of statuses"
        ) from None
