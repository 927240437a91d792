"""`headwater api`, `headwater db …`, `headwater apikey …`: serve and administer the API."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from headwater.settings import Settings

if TYPE_CHECKING:
    from api.models import Scope

#: api.models.Scope's values, spelled out so that registering the command imports no ORM.
SCOPES = ("read", "run", "write", "admin")


def register(commands: Any) -> None:
    serve = commands.add_parser("api", help="serve the GraphQL API")
    serve.add_argument("--host", help="listen address (default HEADWATER_API_HOST)")
    serve.add_argument("--port", type=int, help="port (default HEADWATER_API_PORT)")
    serve.set_defaults(handler=_serve)

    database = commands.add_parser("db", help="database migrations")
    steps = database.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    steps.add_parser("upgrade", help="apply every pending migration").set_defaults(handler=_upgrade)
    down = steps.add_parser("downgrade", help="unapply migrations down to a target")
    down.add_argument("--to", default=None, help="target migration (default: the one before last)")
    down.set_defaults(handler=_downgrade)

    sdl = commands.add_parser("api-schema", help="print the GraphQL SDL")
    sdl.set_defaults(handler=_print_schema)

    keys = commands.add_parser("apikey", help="API keys")
    key_steps = keys.add_subparsers(dest="key_command", required=True, metavar="COMMAND")
    create = key_steps.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--name", default="cli")
    create.add_argument("--scope", action="append", choices=SCOPES, required=True, dest="scopes")
    create.add_argument("--tenant", default=None, help="restrict the key to one tenant")
    create.set_defaults(handler=_create_key)


def _serve(args: argparse.Namespace) -> int:
    settings = Settings()
    return serve(args.host or settings.api_host, args.port or settings.api_port)


def serve(host: str, port: int) -> int:
    """Run the API in the foreground until interrupted."""
    # Imported here: the server stack takes a second to import, which `headwater uis …`
    # commands should not pay.
    import uvicorn

    from api.app import create_app
    from api.logs import configure

    settings = Settings()
    configure(settings.log_level)
    config = settings.api_config()
    app = create_app(config, settings.compile_options())
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        # The protocol refuses an oversized frame before it is buffered whole; the app checks
        # each message against the same limit as an HTTP body (api.app.LimitedWebSocket).
        ws_max_size=config.max_body_bytes + 1024,
        proxy_headers=False,
        access_log=False,
        # Keep the JSON logging configured above instead of uvicorn's text format.
        log_config=None,
    )
    return 0


def _print_schema(_: argparse.Namespace) -> int:
    from api.schema import build_schema

    print(build_schema(Settings().api_config()).as_str())
    return 0


def _upgrade(_: argparse.Namespace) -> int:
    from api import db

    asyncio.run(db.upgrade(Settings().database))
    print("database: migrations applied")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    from api import db

    target = args.to or db.previous_migration()
    asyncio.run(db.downgrade(Settings().database, target))
    print(f"database: migrated down to {target}")
    return 0


async def _new_key(url: str, name: str, scopes: list[Scope], tenant: str | None) -> str:
    from api import db
    from api.auth import create_key

    await db.connect(url, pool_size=2)
    try:
        created = await create_key(name, scopes, tenant_id=tenant, created_by="cli")
    finally:
        await db.disconnect()
    return created.token


def _create_key(args: argparse.Namespace) -> int:
    from api.models import Scope

    token = asyncio.run(
        _new_key(Settings().database, args.name, [Scope(s) for s in args.scopes], args.tenant)
    )
    print(token)
    return 0


async def first_admin_key(url: str) -> str | None:
    """An admin key when the database has no key at all (the first `make up`), else None."""
    from api import db
    from api.auth import create_key
    from api.models import ApiKey, Scope

    await db.connect(url, pool_size=2)
    try:
        if await ApiKey.exists():
            return None
        created = await create_key("first-admin", [Scope.ADMIN], tenant_id=None, created_by="up")
        return created.token
    finally:
        await db.disconnect()
