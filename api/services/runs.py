"""Runs: trigger now, backfill a window in chunks, cancel, retry — through the DB state machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api import audit, sql
from api.auth import Principal, require_scope
from api.exceptions import (
    ConflictError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from api.models import Backfill, Provider, Run, RunStatus, RunTrigger, Scope, SpecVersion
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


MAX_BACKFILL_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class BackfillQueued:
    """A backfill group and its chunk runs, oldest first."""

    backfill: Backfill
    runs: list[Run]


async def backfill(
    principal: Principal,
    provider_id: int,
    start: date,
    end: date,
    chunk_days: int,
    parameters: dict[str, Any] | None = None,
    *,
    max_concurrency: int = 1,
    request_id: str | None = None,
) -> BackfillQueued:
    """Queue one run per chunk of ``[start, end]`` (inclusive), oldest first, as one group.

    Workers run the group's chunks in order, at most ``max_concurrency`` at a time.
    """
    require_scope(principal, Scope.RUN)
    if end < start:
        raise InvalidInputError("to", f"`to` ({end}) is before `from` ({start})")
    if chunk_days < 1:
        raise InvalidInputError("chunkDays", "chunkDays must be at least 1")
    if not 1 <= max_concurrency <= MAX_BACKFILL_CONCURRENCY:
        raise InvalidInputError(
            "maxConcurrency", f"maxConcurrency must be between 1 and {MAX_BACKFILL_CONCURRENCY}"
        )
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
        group = await Backfill.create(
            tenant_id=provider.tenant_id,
            provider=provider,
            version=version,
            window_start=start,
            window_end=end,
            chunk_days=chunk_days,
            max_concurrency=max_concurrency,
            created_by=principal.name,
        )
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
                    backfill=group,
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
                "backfill_id": group.id,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "chunk_days": chunk_days,
                "max_concurrency": max_concurrency,
                "runs": [run.id for run in runs],
            },
            request_id=request_id,
        )
    return BackfillQueued(group, runs)


async def visible_backfill(principal: Principal, backfill_id: int) -> Backfill:
    group = await Backfill.get_or_none(id=backfill_id)
    if group is None or not principal.sees(group.tenant_id):
        raise NotFoundError("backfill", str(backfill_id))
    return group


async def cancel_backfill(
    principal: Principal, backfill_id: int, *, request_id: str | None = None
) -> Backfill:
    """Cancel a whole backfill: its queued chunks at once, running ones through CANCELING.

    Chunks already committing finish (the database refuses their cancel); finished ones stay.
    """
    require_scope(principal, Scope.RUN)
    group = await visible_backfill(principal, backfill_id)
    async with in_transaction():
        # The row lock keeps workers from claiming a chunk of it meanwhile (see runner queue).
        group = await Backfill.select_for_update().get(id=group.id)
        if group.canceled_at is not None:
            raise IllegalTransitionError(group.id, "CANCELED", "CANCELED", kind="backfill")
        group.canceled_at = datetime.now(UTC)
        await group.save(update_fields=["canceled_at"])
        moved = await sql.rows(
            "UPDATE runs SET status = CASE status WHEN 'QUEUED' THEN 'CANCELED' "
            "ELSE 'CANCELING' END WHERE backfill_id = $1 "
            "AND status IN ('QUEUED', 'STARTING', 'RUNNING') AND commit_started_at IS NULL "
            "RETURNING id, status",
            [group.id],
        )
        await audit.record(
            principal,
            "backfill.cancel",
            "backfill",
            group.id,
            tenant_id=group.tenant_id,
            after={"runs": {str(row["id"]): row["status"] for row in moved}},
            request_id=request_id,
        )
    return group


async def _move(run_id: int, sql_target: str, target_name: str) -> RunStatus:
    """Set a run's status in one statement; the database refuses illegal moves."""
    try:
        return await _set_status(run_id, sql_target)
    except Exception as exc:
        if sql.sqlstate(exc) != ILLEGAL_TRANSITION:
            raise
        raise await _illegal(run_id, target_name) from exc


async def _set_status(run_id: int, sql_target: str) -> RunStatus:
    rows = await sql.rows(
        f"UPDATE runs SET status = {sql_target} WHERE id = $1 RETURNING status", [run_id]
    )
    return RunStatus(rows[0]["status"])


async def _illegal(run_id: int, target_name: str) -> IllegalTransitionError:
    """The refusal of a move, read after the refused statement's transaction ended."""
    run = await Run.get(id=run_id)
    reason = (
        "it is committing its data and finishes on its own"
        if run.commit_started_at is not None and run.status is RunStatus.RUNNING
        else None
    )
    return IllegalTransitionError(run_id, str(run.status), target_name, reason=reason)


async def cancel(principal: Principal, run_id: int, *, request_id: str | None = None) -> Run:
    """Cancel: a queued run at once, a starting or running one through CANCELING."""
    require_scope(principal, Scope.RUN)
    run = await visible_run(principal, run_id)
    before = str(run.status)
    # One statement decides and moves, so a worker claiming the run meanwhile cannot race it.
    # A run already CANCELING stays so: its worker ends it once its job has stopped.
    # The move and its audit entry are one transaction: neither is kept without the other.
    try:
        async with in_transaction():
            await _set_status(
                run.id,
                "CASE status WHEN 'QUEUED' THEN 'CANCELED' WHEN 'STARTING' THEN 'CANCELING' "
                "WHEN 'RUNNING' THEN 'CANCELING' WHEN 'CANCELING' THEN 'CANCELING' "
                "ELSE 'CANCELED' END",
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
    except Exception as exc:
        if sql.sqlstate(exc) != ILLEGAL_TRANSITION:
            raise
        raise await _illegal(run.id, "CANCELED") from exc
    return run


def _retried(run_id: int, retry_id: int | None) -> ConflictError:
    which = f" as run {retry_id}" if retry_id is not None else ""
    return ConflictError(
        f"run {run_id} was already retried{which}; retry its latest attempt instead"
    )


async def retry(principal: Principal, run_id: int, *, request_id: str | None = None) -> Run:
    """Queue a new attempt of a failed run (same version, parameters and window)."""
    require_scope(principal, Scope.RUN)
    failed = await visible_run(principal, run_id)
    if failed.status is not RunStatus.FAILED:
        raise IllegalTransitionError(failed.id, str(failed.status), "RETRY")
    group_id = failed.backfill_id  # type: ignore[attr-defined]
    if (
        group_id is not None
        and await Backfill.filter(id=group_id, canceled_at__not_isnull=True).exists()
    ):
        # Workers take no chunk of a canceled backfill: this attempt runs on its own.
        group_id = None
    try:
        async with in_transaction():
            # One retry per run (a unique index, so two concurrent calls cannot both pass).
            existing = await Run.filter(parent_id=failed.id).first()
            if existing is not None:
                raise _retried(failed.id, existing.id)
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
                backfill_id=group_id,
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
    except IntegrityError as exc:
        if sql.sqlstate(exc) != sql.UNIQUE_VIOLATION:
            raise
        raise _retried(failed.id, None) from None
    return run
