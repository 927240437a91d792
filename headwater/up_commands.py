"""`headwater up` and `headwater down`: the platform on one machine, running in the background.

`up` migrates the database, starts what is missing of the local Polygon server, the API and a
worker with the scheduler (each with a pid file and a log under ``<var>``), registers the
Polygon example once per database with a first run, prints where everything is, and exits.
`down` stops those processes. `make up` / `make down` wrap them with the rest of the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from headwater import api_commands, services
from headwater.services import Service, ServiceError
from headwater.settings import ROOT, Settings

EXAMPLE = ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml"
REAL_POLYGON = "https://api.polygon.io"
PROVIDER = "polygon"
TENANT = "default"
TRINO_QUERY = (
    "SELECT ticker, bar_date, close FROM iceberg.market_data.stock_daily_bars "
    "ORDER BY bar_date DESC LIMIT 10"
)

POLYGON_SIM = "polygon-sim"
API = "api"
WORKER = "worker"
LABELS = {POLYGON_SIM: "the Polygon server", API: "the API", WORKER: "the worker"}
#: Seconds to become ready: the worker warms up a Spark session before it serves metrics.
READY_SECONDS = {POLYGON_SIM: 30.0, API: 60.0, WORKER: 180.0}
#: Seconds between TERM and KILL (the worker's: see `grace`).
GRACE_SECONDS = {API: 15.0, POLYGON_SIM: 10.0}
#: The order `down` stops them in: the worker's last runs still read the Polygon server.
STOP_ORDER = (WORKER, API, POLYGON_SIM)
_PROBE_SECONDS = 2.0


def register(commands: Any) -> None:
    up = commands.add_parser(
        "up",
        help="migrate, then start in the background what is missing of the API, a worker with "
        "the scheduler and the local Polygon server; register the Polygon example once",
    )
    up.set_defaults(handler=_up)
    down = commands.add_parser(
        "down", help="stop what `headwater up` started (the worker, the API, the Polygon server)"
    )
    down.set_defaults(handler=_down)


@dataclass(frozen=True, slots=True)
class Started:
    """A service of this `up`: its pid and whether this `up` started it (else it was running)."""

    service: Service
    pid: int
    new: bool


@dataclass(frozen=True, slots=True)
class Example:
    """The Polygon provider: the run queued when this `up` registered it, and its base URL."""

    run_id: int | None
    base_url: str


def service(name: str, settings: Settings) -> Service:
    """The background process ``name`` (a `headwater` subcommand) under the var directory."""
    command = [sys.executable, "-m", "headwater.cli", name]
    if name == WORKER:
        # The one worker of `up` also runs the scheduler, so the example's cron fires.
        command.append("--scheduler")
    return Service(name, tuple(command), settings.var_dir)


def _up(_: argparse.Namespace) -> int:
    from api import db

    settings = Settings()
    asyncio.run(db.upgrade(settings.database))
    # An empty key counts as none: the local server stands in for Polygon.io then.
    local = not os.environ.get("POLYGON_API_KEY")
    polygon_url = f"http://127.0.0.1:{settings.polygon_sim_port}" if local else REAL_POLYGON
    # Every process gets the HEADWATER_ settings this command sees; the worker also the key
    # of the Polygon server its runs talk to.
    env = dict(os.environ)
    if local:
        env["POLYGON_API_KEY"] = settings.polygon_sim_keys[0]
    names = ([POLYGON_SIM] if local else []) + [API, WORKER]
    try:
        with services.locked(settings.var_dir):
            started = _start_missing([service(name, settings) for name in names], settings, env)
            example = asyncio.run(_register_example(settings, polygon_url))
        # Created last: a key made before a failed start would never be shown to anyone.
        token = asyncio.run(api_commands.first_admin_key(settings.database))
    except ServiceError as exc:
        print(f"headwater up: {exc}", file=sys.stderr)
        print("headwater up: `make down` stops what did start.", file=sys.stderr)
        return 1
    for item in started:
        state = "started" if item.new else "already running"
        print(f"{LABELS[item.service.name]}: {state} (pid {item.pid})")
    _report(settings, token, local, polygon_url, example)
    return 0


def _start_missing(wanted: list[Service], settings: Settings, env: dict[str, str]) -> list[Started]:
    """Start each service not running yet, then wait until every one of them is ready."""
    started = []
    for wanted_service in wanted:
        pid = services.running_pid(wanted_service)
        if pid is None:
            started.append(Started(wanted_service, services.start(wanted_service, env), new=True))
        else:
            started.append(Started(wanted_service, pid, new=False))
    # Started together, waited for in turn: the worker's Spark session warms up meanwhile.
    for item in started:
        try:
            services.wait_until(
                item.service, _ready(item, settings), READY_SECONDS[item.service.name]
            )
        except ServiceError:
            # Stopped, so the next `up` starts it afresh rather than reusing a broken process.
            services.stop(item.service, grace(item.service.name, settings))
            raise
    return started


def grace(name: str, settings: Settings) -> float:
    """How long ``name`` may take to stop: a worker lets its runs finish, then stops them."""
    if name == WORKER:
        return settings.worker_shutdown_grace_seconds + settings.worker_cancel_timeout_seconds + 15
    return GRACE_SECONDS[name]


def _ready(item: Started, settings: Settings) -> Callable[[], bool]:
    """The readiness probe of a service: it listens on its port and answers there."""
    name = item.service.name
    if name == POLYGON_SIM:
        port, path = settings.polygon_sim_port, "/healthz"
    elif name == API:
        port, path = settings.api_port, "/readyz"
    else:
        port, path = settings.worker_metrics_port, "/metrics"
    if port == 0:
        # The worker's metrics switched off (HEADWATER_WORKER_METRICS_PORT=0): a live process
        # is all there is to see.
        return lambda: True
    url = f"http://{_probe_host(settings, name)}:{port}{path}"

    def ready() -> bool:
        if not services.listens(item.pid, port):
            return False
        try:
            return httpx.get(url, timeout=_PROBE_SECONDS).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def _probe_host(settings: Settings, name: str) -> str:
    host = {API: settings.api_host, POLYGON_SIM: settings.polygon_sim_host}.get(name, "127.0.0.1")
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def _register_example(settings: Settings, polygon_url: str) -> Example:
    """Register the Polygon example and queue its first run, once per database."""
    from api import db
    from api.auth import Principal
    from api.models import Provider, Scope, SpecVersion
    from api.services import providers, runs

    await db.connect(settings.database, pool_size=2)
    try:
        # Deleted ones count too: a user who removed the example does not get it back.
        existing = await Provider.filter(tenant_id=TENANT, name=PROVIDER).order_by("-id").first()
        if existing is not None:
            version = await SpecVersion.get_or_none(id=existing.current_version_id)  # type: ignore[attr-defined]
            parsed = version.spec_parsed if version is not None else {}
            return Example(None, str(parsed.get("provider", {}).get("base_url", "")))
        text = EXAMPLE.read_text()
        if polygon_url != REAL_POLYGON:
            text = text.replace(f"base_url: {REAL_POLYGON}", f"base_url: {polygon_url}", 1)
        principal = Principal(0, "headwater-up", frozenset({Scope.ADMIN}), None)
        saved = await providers.create(
            principal,
            text,
            message="the Polygon example, registered by `headwater up`",
            options=settings.compile_options(),
        )
        run = await runs.trigger(principal, saved.provider.id)
        return Example(run.id, polygon_url)
    finally:
        await db.disconnect()


def _report(
    settings: Settings, token: str | None, local: bool, polygon_url: str, example: Example
) -> None:
    if token is not None:
        print(f"\nFirst admin API key (shown once; keep it, create others with it):\n  {token}")
    metrics = (
        f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
        if settings.worker_metrics_port
        else "off (HEADWATER_WORKER_METRICS_PORT=0)"
    )
    source = f"{polygon_url} (the local Polygon-compatible server)"
    if not local:
        source = "the real Polygon.io API"
    if example.run_id is not None:
        provider = f"`{PROVIDER}` registered; its first run (id {example.run_id}) queued"
    else:
        provider = f"`{PROVIDER}` registered earlier, reading {example.base_url}"
    python = _shown(Path(sys.executable))
    query = (
        f"import trino; c = trino.dbapi.connect(host='127.0.0.1', port={settings.trino_port}, "
        f"user='headwater').cursor(); c.execute('{TRINO_QUERY}'); print(*c.fetchall(), sep=chr(10))"
    )
    print(
        f"\nGraphQL API:     http://{settings.api_host}:{settings.api_port}/graphql "
        "(GraphiQL in a browser; header Authorization: Bearer <key>)\n"
        f"Worker metrics:  {metrics}\n"
        f"Polygon:         {source}\n"
        f"Provider:        {provider}; then on its cron schedule\n"
        f"Trino:           {settings.trino_url} (catalog iceberg); the rows, once a run has "
        "succeeded:\n"
        # Double quotes: the query has none, nor anything else a shell expands inside them.
        f'  {python} -c "{query}"\n'
        f"Logs and pids:   {_shown(settings.var_dir / 'log')}, {_shown(settings.var_dir / 'run')}\n"
        "make down stops everything.",
        flush=True,
    )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter to copy)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _down(_: argparse.Namespace) -> int:
    settings = Settings()
    with services.locked(settings.var_dir):
        for name in STOP_ORDER:
            item = service(name, settings)
            pid = services.running_pid(item)
            if pid is None:
                services.stop(item, 0)
                print(f"{LABELS[name]}: not running")
                continue
            print(f"{LABELS[name]}: stopping (pid {pid}) ...", end="", flush=True)
            services.stop(item, grace(name, settings))
            print(" stopped", flush=True)
    return 0
