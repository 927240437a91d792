"""Relay-style connections with keyset cursors, and the page-size rule every listing shares."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from api.config import ApiConfig
from api.exceptions import InvalidInputError

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


def page_size(first: int | None, config: ApiConfig) -> int:
    """``first`` checked against the maximum page size (an oversize page is refused, not cut)."""
    if first is None:
        return config.default_page_size
    if first < 1 or first > config.max_page_size:
        raise InvalidInputError(
            "first", f"`first` must be between 1 and {config.max_page_size}; got {first}"
        )
    return first


class LazyCount:
    """A listing's capped count, computed once and only when a query asks for it."""

    def __init__(self, count: Callable[[], Awaitable[tuple[int, bool]]]) -> None:
        self._count = count
        self._task: asyncio.Future[tuple[int, bool]] | None = None

    async def result(self) -> tuple[int, bool]:
        """(count up to the cap, whether it is exact)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._count())
        return await self._task
