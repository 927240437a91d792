"""Providers: create (with version 1), update (adds a version), pause, resume, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api import audit, sql
from api.auth import Principal, require_scope
from api.exceptions import ConflictError, ForbiddenError, NotFoundError
from api.models import Provider, ProviderStatus, Run, Scope, SpecVersion
from api.models.states import ACTIVE
from api.services.specs import CheckedSpec, check
from uis_compiler import Issue
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.grants import DEFAULT_GRANTS, Grants
from uis_compiler.schedule import next_fire


@dataclass(frozen=True, slots=True)
class Saved:
    """A provider after a spec was saved, the new version, and the spec's warnings."""

    provider: Provider
    version: SpecVersion
    warnings: tuple[Issue, ...]


def snapshot(provider: Provider) -> dict[str, Any]:
    """The audited fields of a provider."""
    return {
        "name": provider.name,
        "display_name": provider.display_name,
        "status": str(provider.status),
        "engine": provider.engine,
        "schedule_cron": provider.schedule_cron,
        "schedule_timezone": provider.schedule_timezone,
        "current_version_id": provider.current_version_id,  # type: ignore[attr-defined]
    }


async def visible(
    principal: Principal, provider_id: int, *, include_deleted: bool = False
) -> Provider:
    """The provider, if it exists and the caller's tenant may see it; else NotFoundError."""
    provider = await Provider.get_or_none(id=provider_id)
    if (
        provider is None
        or not principal.sees(provider.tenant_id)
        or (provider.status is ProviderStatus.DELETED and not include_deleted)
    ):
        raise NotFoundError("provider", str(provider_id))
    return provider


def next_run_at(provider: Provider, now: datetime | None = None) -> datetime | None:
    """When an active, scheduled provider next fires (the scheduler keeps it from then on)."""
    if provider.status is not ProviderStatus.ACTIVE or not provider.schedule_cron:
        return None
    return next_fire(provider.schedule_cron, provider.schedule_timezone, now or datetime.now(UTC))


def _fields(checked: CheckedSpec) -> dict[str, Any]:
    provider = checked.spec.provider
    return {
        "display_name": provider.display_name,
        "description": provider.description,
        "owner": provider.owner,
        "engine": checked.engine,
        "schedule_cron": provider.schedule_cron,
        "schedule_timezone": provider.schedule_timezone,
    }


async def create(
    principal: Principal,
    text: str,
    *,
    message: str | None = None,
    options: CompileOptions | None = None,
    grants: Grants = DEFAULT_GRANTS,
    request_id: str | None = None,
) -> Saved:
    """Register a provider from a spec; raises SpecInvalidError, ForbiddenError, ConflictError."""
    require_scope(principal, Scope.WRITE)
    checked = check(text, options, grants)
    spec = checked.spec
    tenant = spec.provider.tenant_id
    if not principal.sees(tenant):
        raise ForbiddenError(f"this key may not create providers for tenant `{tenant}`")
    taken = ConflictError(
        f"tenant `{tenant}` already has a provider named `{spec.provider.name}`; "
        "update it instead, or choose another provider.name"
    )
    try:
        return await _create(principal, text, checked, message, request_id, taken)
    except IntegrityError as exc:
        # Two concurrent creates with one name: the unique index refuses the second insert.
        if sql.sqlstate(exc) != sql.UNIQUE_VIOLATION:
            raise
        raise taken from None


async def _create(
    principal: Principal,
    text: str,
    checked: CheckedSpec,
    message: str | None,
    request_id: str | None,
    taken: ConflictError,
) -> Saved:
    spec = checked.spec
    tenant = spec.provider.tenant_id
    async with in_transaction():
        if await Provider.filter(
            tenant_id=tenant, name=spec.provider.name, deleted_at=None
        ).exists():
            raise taken
        provider = Provider(tenant_id=tenant, name=spec.provider.name, **_fields(checked))
        provider.next_run_at = next_run_at(provider)
        await provider.save()
        version = await _add_version(provider, 1, text, checked, principal, message)
        provider.current_version = version
        await provider.save(update_fields=["current_version_id"])
        await audit.record(
            principal,
            "provider.create",
            "provider",
            provider.id,
            tenant_id=provider.tenant_id,
            after=snapshot(provider),
            request_id=request_id,
        )
    return Saved(provider, version, checked.warnings)


async def _add_version(
    provider: Provider,
    number: int,
    text: str,
    checked: CheckedSpec,
    principal: Principal,
    message: str | None,
) -> SpecVersion:
    return await SpecVersion.create(
        provider=provider,
        number=number,
        spec_text=text,
        spec_parsed=checked.parsed,
        compiled_plan=checked.compiled,
        engine=checked.engine,
        author=principal.name,
        message=message,
    )


async def update(
    principal: Principal,
    provider_id: int,
    text: str,
    *,
    message: str | None = None,
    options: CompileOptions | None = None,
    grants: Grants = DEFAULT_GRANTS,
    request_id: str | None = None,
) -> Saved:
    """Save a new spec version; name and tenant cannot change."""
    require_scope(principal, Scope.WRITE)
    checked = check(text, options, grants)
    async with in_transaction():
        provider = await visible(principal, provider_id)
        provider = await Provider.select_for_update().get(id=provider.id)
        spec = checked.spec.provider
        if (spec.tenant_id, spec.name) != (provider.tenant_id, provider.name):
            raise ConflictError(
                f"the spec names provider `{spec.tenant_id}/{spec.name}`, but this is "
                f"`{provider.tenant_id}/{provider.name}`; a provider's name and tenant are fixed"
            )
        before = snapshot(provider)
        latest = await SpecVersion.filter(provider_id=provider.id).order_by("-number").first()
        number = (latest.number if latest else 0) + 1
        version = await _add_version(provider, number, text, checked, principal, message)
        schedule = (provider.schedule_cron, provider.schedule_timezone)
        for name, value in _fields(checked).items():
            setattr(provider, name, value)
        if (provider.schedule_cron, provider.schedule_timezone) != schedule:
            provider.next_run_at = next_run_at(provider)
        provider.current_version = version
        await provider.save()
        await audit.record(
            principal,
            "provider.update",
            "provider",
            provider.id,
            tenant_id=provider.tenant_id,
            before=before,
            after=snapshot(provider),
            request_id=request_id,
        )
    return Saved(provider, version, checked.warnings)


async def set_status(
    principal: Principal, provider_id: int, status: ProviderStatus, *, request_id: str | None = None
) -> Provider:
    """Pause or resume (paused providers are not scheduled; manual runs still work)."""
    require_scope(principal, Scope.WRITE)
    async with in_transaction():
        provider = await visible(principal, provider_id)
        before = snapshot(provider)
        provider.status = status
        # A resumed provider starts at its next tick: the ticks of the pause are not made up.
        provider.next_run_at = next_run_at(provider)
        await provider.save(update_fields=["status", "next_run_at", "updated_at"])
        action = "provider.pause" if status is ProviderStatus.PAUSED else "provider.resume"
        await audit.record(
            principal,
            action,
            "provider",
            provider.id,
            tenant_id=provider.tenant_id,
            before=before,
            after=snapshot(provider),
            request_id=request_id,
        )
    return provider


async def delete(
    principal: Principal, provider_id: int, *, request_id: str | None = None
) -> Provider:
    """Delete a provider with no active run; its versions and runs stay for history."""
    require_scope(principal, Scope.WRITE)
    async with in_transaction():
        provider = await visible(principal, provider_id)
        active = await Run.filter(provider_id=provider.id, status__in=list(ACTIVE)).count()
        if active:
            raise ConflictError(
                f"provider {provider.id} has {active} active run(s); cancel them first"
            )
        before = snapshot(provider)
        provider.status = ProviderStatus.DELETED
        provider.deleted_at = datetime.now(UTC)
        provider.next_run_at = None
        await provider.save(update_fields=["status", "deleted_at", "next_run_at", "updated_at"])
        await audit.record(
            principal,
            "provider.delete",
            "provider",
            provider.id,
            tenant_id=provider.tenant_id,
            before=before,
            after=snapshot(provider),
            request_id=request_id,
        )
    return provider
