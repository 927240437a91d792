"""Runs: trigger now, backfill a window in chunks, cancel, retry — through the DB state machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from api import audit, sql
from api.auth import Principal, require_scope
from api.exceptions import IllegalTransitionError, InvalidInputError, NotFoundError
from api.models import Provider, Run, RunStatus, RunTrigger, Scope, SpecVersion
from api.services.providers import visible
from api.services.specs import run_parameters

#: The state machine's refusals carry this SQLSTATE (see migrations/0002).
ILLEGAL_TRANSITION = "HW001"
MAX_BACKFILL_CHUNKS = 1000


async def visible_run(principal: Principal, run_id: int) -> Run:
    run = await Run.get_or_none(id=run_id)
    if run is None or not principal.sees(run.tenant_id):
        raise NotFoundError("run", str(run_id))
    return run


def _lookback(version: SpecVersion) -> int:
    plan = (version.compiled_plan or {}).get("plan") or {}
    return int((plan.get("window") or {}).get("lookback_days", 1))


def _check_parameters(version: SpecVersion, parameters: dict[str, Any]) -> dict[str, str]:
    needed = run_parameters(version.compiled_plan or {})
    missing = [name for name in needed if name not in parameters]
    if missing:
        raise InvalidInputError(
            "parameters",
            f"the spec needs run parameter(s) {', '.join(missing)}; pass them in `parameters`",
        )
    return {str(key): str(value) for key, value in parameters.items()}


async def _current_version(provider: Provider) -> SpecVersion:
    version = await SpecVersion.get_or_none(id=provider.current_version_id)  # type: ignore[attr-defined]
    if version is None:
        raise NotFoundError("spec version of provider", str(provider.id))
    return version


async def trigger(
    principal: Principal,
    provider_id: int,
    parameters: dict[str, Any] | None = None,
    *,
    logical_date: date | None = None,
    request_id: str | None = None,
) -> Run:
    """Queue a manual run of the provider's current spec version."""
    require_scope(principal, Scope.RUN)
    provider = await visible(principal, provider_id)
    version = await _current_version(provider)
    values = _check_parameters(version, parameters or {})
    day = logical_date or datetime.now(UTC).date()
    async with in_transaction():
        run = await Run.create(
            tenant_id=provider.tenant_id,
            provider=provider,
            version=version,
            trigger=RunTrigger.MANUAL,
            parameters=values,
            logical_date=day,
            window_start=day - timedelta(days=_lookback(version)),
            window_end=day,
        )
        await audit.record(
            principal,
            "run.trigger",
            "run",
            run.id,
            tenant_id=run.tenant_id,
            after={"provider_id": provider.id, "parameters": values},
            request_id=request_id,
        )
    return run


async def backfill(
    principal: Principal,
    provider_id: int,
    start: date,
    end: date,
    chunk_days: int,
    parameters: dict[str, Any] | None = None,
    *,
    request_id: str | None = None,
) -> list[Run]:
    """Queue one run per chunk of ``[start, end]`` (inclusive), oldest first."""
    require_scope(principal, Scope.RUN)
    if end < start:
        raise InvalidInputError("to", f"`to` ({end}) is before `from` ({start})")
    if chunk_days < 1:
        raise InvalidInputError("chunkDays", "chunkDays must be at least 1")
    chunks = ((end - start).days // chunk_days) + 1
    if chunks > MAX_BACKFILL_CHUNKS:
        raise InvalidInputError(
            "chunkDays",
            f"the window makes {chunks} runs; the limit is {MAX_BACKFILL_CHUNKS}: use larger chunks",
        )
    provider = await visible(principal, provider_id)
    version = await _current_version(provider)
    values = _check_parameters(version, parameters or {})
    runs: list[Run] = []
    async with in_transaction():
        first = start
        while first <= end:
            last = min(first + timedelta(days=chunk_days - 1), end)
            runs.append(
                await Run.create(
                    tenant_id=provider.tenant_id,
                    provider=provider,
                    version=version,
                    trigger=RunTrigger.BACKFILL,
                    parameters=values,
                    logical_date=last,
                    window_start=first,
                    window_end=last,
                )
            )
            first = last + timedelta(days=1)
        await audit.record(
            principal,
            "run.backfill",
            "provider",
            provider.id,
            tenant_id=provider.tenant_id,
            after={
                "from": start.isoformat(),
                "to": end.isoformat(),
                "chunk_days": chunk_days,
                "runs": [run.id for run in runs],
            },
            request_id=request_id,
        )
    return runs


async def _move(run_id: int, sql_target: str, target_name: str) -> RunStatus:
    """Set a run's status in one statement; the database refuses illegal moves."""
    try:
        rows = await sql.rows(
            f"UPDATE runs SET status = {sql_target} WHERE id = $1 RETURNING status", [run_id]
        )
    except Exception as exc:
        if sql.sqlstate(exc) != ILLEGAL_TRANSITION:
            raise
        current = await Run.get(id=run_id).values_list("status", flat=True)
        raise IllegalTransitionError(run_id, str(current), target_name) from exc
    return RunStatus(rows[0]["status"])


async def cancel(principal: Principal, run_id: int, *, request_id: str | None = None) -> Run:
    """Cancel: a queued run at once, a starting or running one through CANCELING."""
    require_scope(principal, Scope.RUN)
    run = await visible_run(principal, run_id)
    before = str(run.status)
    # One statement decides and moves, so a worker claiming the run meanwhile cannot race it.
    await _move(
        run.id,
        "CASE status WHEN 'QUEUED' THEN 'CANCELED' WHEN 'STARTING' THEN 'CANCELING' "
        "WHEN 'RUNNING' THEN 'CANCELING' ELSE 'CANCELED' END",
        "CANCELED",
    )
    run = await Run.get(id=run.id)
    await audit.record(
        principal,
        "run.cancel",
        "run",
        run.id,
        tenant_id=run.tenant_id,
        before={"status": before},
        after={"status": str(run.status)},
        request_id=request_id,
    )
    return run


async def retry(principal: Principal, run_id: int, *, request_id: str | None = None) -> Run:
    """Queue a new attempt of a failed run (same version, parameters and window)."""
    require_scope(principal, Scope.RUN)
    failed = await visible_run(principal, run_id)
    if failed.status is not RunStatus.FAILED:
        raise IllegalTransitionError(failed.id, str(failed.status), "RETRY")
    async with in_transaction():
        run = await Run.create(
            tenant_id=failed.tenant_id,
            provider_id=failed.provider_id,  # type: ignore[attr-defined]
            version_id=failed.version_id,  # type: ignore[attr-defined]
            trigger=RunTrigger.RETRY,
            attempt=failed.attempt + 1,
            parent=failed,
            parameters=failed.parameters,
            logical_date=failed.logical_date,
            window_start=failed.window_start,
            window_end=failed.window_end,
        )
        await audit.record(
            principal,
            "run.retry",
            "run",
            run.id,
            tenant_id=run.tenant_id,
            after={"parent_id": failed.id, "attempt": run.attempt},
            request_id=request_id,
        )
    return run
