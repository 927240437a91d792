"""The dashboard: runs by status per day, rows per day, success rate, failing providers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import strawberry

from api import sql
from api.exceptions import InvalidInputError
from api.models import Provider
from api.schema.context import Info
from api.schema.errors import guarded
from api.schema.nodes import ProviderNode
from api.schema.permissions import CanRead, require_principal
from api.schema.scalars import Long

MAX_DAYS = 90


@strawberry.type
class StatusCount:
    status: str
    count: int


@strawberry.type
class DayStats:
    day: date
    by_status: list[StatusCount]
    rows_written: Long


@strawberry.type
class FailingProvider:
    provider: ProviderNode
    failures: int
    last_failure_at: datetime


@strawberry.type
class Dashboard:
    days: list[DayStats]
    #: SUCCEEDED / (SUCCEEDED + FAILED) over the period; None with no finished run.
    success_rate: float | None
    failing_providers: list[FailingProvider]


async def _dashboard(info: Info, days: int) -> Dashboard:
    principal = require_principal(info)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError("days", f"`days` must be between 1 and {MAX_DAYS}")
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=days - 1
    )
    args: list[Any] = [since]
    tenant = ""
    if principal.tenant_id is not None:
        args.append(principal.tenant_id)
        tenant = " AND tenant_id = $2"
    rows = await sql.rows(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, count(*) AS n, "
        "sum(rows_written) AS rows_written FROM runs "
        f"WHERE created_at >= $1{tenant} GROUP BY 1, 2 ORDER BY 1, 2",
        args,
    )
    per_day: dict[date, DayStats] = {}
    for offset in range(days):
        day = (since + timedelta(days=offset)).date()
        per_day[day] = DayStats(day=day, by_status=[], rows_written=Long(0))
    succeeded = failed = 0
    for row in rows:
        stats = per_day.get(row["day"])
        if stats is None:
            continue
        stats.by_status.append(StatusCount(status=row["status"], count=int(row["n"])))
        stats.rows_written = Long(stats.rows_written + int(row["rows_written"] or 0))
        succeeded += int(row["n"]) if row["status"] == "SUCCEEDED" else 0
        failed += int(row["n"]) if row["status"] == "FAILED" else 0
    failing = await sql.rows(
        "SELECT provider_id, count(*) AS failures, max(created_at) AS last_failure_at FROM runs "
        f"WHERE created_at >= $1 AND status = 'FAILED'{tenant} "
        "GROUP BY provider_id ORDER BY failures DESC, provider_id LIMIT 10",
        args,
    )
    providers = {p.id: p for p in await Provider.filter(id__in=[r["provider_id"] for r in failing])}
    return Dashboard(
        days=list(per_day.values()),
        success_rate=succeeded / (succeeded + failed) if succeeded + failed else None,
        failing_providers=[
            FailingProvider(
                provider=ProviderNode(model=providers[row["provider_id"]]),
                failures=int(row["failures"]),
                last_failure_at=row["last_failure_at"],
            )
            for row in failing
            if row["provider_id"] in providers
        ],
    )


@strawberry.type
class DashboardQueries:
    @strawberry.field(permission_classes=[CanRead])
    async def dashboard(self, info: Info, days: int = 14) -> Dashboard:
        return await guarded(lambda: _dashboard(info, days))
