"""DataLoaders: every nested lookup of one request is one batched query (no N+1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api import sql
from api.models import Provider, QualityResult, SpecVersion
from api.queries.backfills import status_counts
from api.queries.events import event_rows_of_runs

K = TypeVar("K")
V = TypeVar("V")


def _by_id(
    fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
) -> Callable[[Sequence[K]], Awaitable[list[V | None]]]:
    async def load(keys: Sequence[K]) -> list[V | None]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return load


async def _providers(ids: list[int]) -> dict[int, Provider]:
    return {p.id: p for p in await Provider.filter(id__in=ids)}


async def _versions(ids: list[int]) -> dict[int, SpecVersion]:
    return {v.id: v for v in await SpecVersion.filter(id__in=ids)}


async def _runs(ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await sql.rows("SELECT * FROM runs WHERE id = ANY($1)", [ids])
    return {int(row["id"]): row for row in rows}


async def _quality(run_ids: Sequence[int]) -> list[list[QualityResult]]:
    grouped: dict[int, list[QualityResult]] = defaultdict(list)
    for result in await QualityResult.filter(run_id__in=list(run_ids)).order_by("id"):
        grouped[result.run_id].append(result)  # type: ignore[attr-defined]
    return [grouped[run_id] for run_id in run_ids]


async def _recent_runs(keys: Sequence[tuple[int, int]]) -> list[list[dict[str, Any]]]:
    """The latest ``n`` runs of each provider, one window-function query for all of them."""
    limit = max(n for _, n in keys)
    rows = await sql.rows(
        "SELECT * FROM (SELECT r.*, row_number() OVER (PARTITION BY provider_id "
        "ORDER BY created_at DESC, id DESC) AS position FROM runs r "
        "WHERE provider_id = ANY($1)) ranked WHERE position <= $2 ORDER BY provider_id, position",
        [list({p for p, _ in keys}), limit],
    )
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[int(row["provider_id"])].append(row)
    return [grouped[p][:n] for p, n in keys]


async def _success_rates(keys: Sequence[tuple[int, int]]) -> list[float | None]:
    """Share of SUCCEEDED among each provider's last ``n`` finished runs."""
    limit = max(n for _, n in keys)
    rows = await sql.rows(
        "SELECT provider_id, status, position FROM (SELECT provider_id, status, row_number() "
        "OVER (PARTITION BY provider_id ORDER BY created_at DESC, id DESC) AS position "
        "FROM runs WHERE provider_id = ANY($1) AND status IN ('SUCCEEDED', 'FAILED')) ranked "
        "WHERE position <= $2",
        [list({p for p, _ in keys}), limit],
    )
    statuses: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        statuses[int(row["provider_id"])].append((int(row["position"]), row["status"]))
    rates: list[float | None] = []
    for provider_id, n in keys:
        recent = [status for position, status in statuses[provider_id] if position <= n]
        rates.append(recent.count("SUCCEEDED") / len(recent) if recent else None)
    return rates


async def _provider_versions(keys: Sequence[tuple[int, int]]) -> list[list[SpecVersion]]:
    """The newest ``n`` versions of each provider: two queries for all of them."""
    limit = max(n for _, n in keys)
    ranked = await sql.rows(
        "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY provider_id "
        "ORDER BY number DESC) AS position FROM spec_versions WHERE provider_id = ANY($1)) "
        "ranked WHERE position <= $2",
        [list({p for p, _ in keys}), limit],
    )
    found = await SpecVersion.filter(id__in=[row["id"] for row in ranked]).order_by("-number")
    grouped: dict[int, list[SpecVersion]] = defaultdict(list)
    for version in found:
        grouped[version.provider_id].append(version)  # type: ignore[attr-defined]
    return [grouped[p][:n] for p, n in keys]


async def _backfill_counts(ids: Sequence[int]) -> list[dict[str, int]]:
    counts = await status_counts(list(ids))
    return [counts[ident] for ident in ids]


#: A page of a run's events: (run id, after seq, rows to read, kinds or empty for all).
EventPageKey = tuple[int, int, int, tuple[str, ...]]


async def _event_pages(keys: Sequence[EventPageKey]) -> list[list[dict[str, Any]]]:
    """Each key's events; one query per distinct set of kinds (a page of runs asks one)."""
    by_kinds: dict[tuple[str, ...], list[tuple[int, int, int]]] = defaultdict(list)
    for run_id, after, limit, kinds in keys:
        by_kinds[kinds].append((run_id, after, limit))
    found: dict[EventPageKey, list[dict[str, Any]]] = {}
    for kinds, pages in by_kinds.items():
        rows = await event_rows_of_runs(list(dict.fromkeys(pages)), list(kinds) or None)
        found.update({(*page, kinds): page_rows for page, page_rows in rows.items()})
    return [found[key] for key in keys]


def _loader(load: Callable[[Sequence[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """One set per request, so caches never leak between callers."""

    provider: DataLoader[int, Provider | None] = field(
        default_factory=lambda: _loader(_by_id(_providers))
    )
    version: DataLoader[int, SpecVersion | None] = field(
        default_factory=lambda: _loader(_by_id(_versions))
    )
    run: DataLoader[int, dict[str, Any] | None] = field(
        default_factory=lambda: _loader(_by_id(_runs))
    )
    quality: DataLoader[int, list[QualityResult]] = field(default_factory=lambda: _loader(_quality))
    recent_runs: DataLoader[tuple[int, int], list[dict[str, Any]]] = field(
        default_factory=lambda: _loader(_recent_runs)
    )
    success_rate: DataLoader[tuple[int, int], float | None] = field(
        default_factory=lambda: _loader(_success_rates)
    )
    backfill_counts: DataLoader[int, dict[str, int]] = field(
        default_factory=lambda: _loader(_backfill_counts)
    )
    provider_versions: DataLoader[tuple[int, int], list[SpecVersion]] = field(
        default_factory=lambda: _loader(_provider_versions)
    )
    #: Batched but not cached: a websocket's context lives as long as the socket, and a cached
    #: page would go stale (and the cache grow) there.
    event_page: DataLoader[EventPageKey, list[dict[str, Any]]] = field(
        default_factory=lambda: DataLoader(load_fn=_event_pages, cache=False)
    )
