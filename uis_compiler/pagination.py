"""Pagination modes with their defaults resolved, shared by validation and every compiler."""

from __future__ import annotations

from dataclasses import dataclass

from uis_compiler.models import Endpoint, PaginationType

DEFAULT_MAX_PAGES = 1000
DEFAULT_NEXT_URL_PATH = "$.next_url"

#: pagination_config keys each mode reads (page_size and max_pages apply to all).
KEYS_BY_MODE: dict[PaginationType, frozenset[str]] = {
    "cursor": frozenset({"next_url_path", "cursor_path", "cursor_param", "limit_param"}),
    "offset": frozenset({"offset_param", "limit_param"}),
    "page": frozenset({"page_param", "page_size_param", "start_page"}),
    "none": frozenset(),
}
COMMON_KEYS = frozenset({"page_size", "max_pages"})


@dataclass(frozen=True, slots=True)
class Paging:
    """How one endpoint pages, defaults applied.

    cursor: follow the full URL at ``next_url_path``, or read a token at ``cursor_path`` and send
    it as ``cursor_param`` (``page_size`` goes as ``limit_param``). offset: send ``offset_param``/``limit_param``, stop on a short page.
    page: send ``page_param``/``page_size_param`` from ``start_page``, stop on a short or empty page.
    """

    mode: PaginationType
    max_pages: int = DEFAULT_MAX_PAGES
    page_size: int | None = None
    next_url_path: str | None = None
    cursor_path: str | None = None
    cursor_param: str | None = None
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_param: str = "page"
    page_size_param: str = "page_size"
    start_page: int = 1


def resolve(endpoint: Endpoint) -> Paging:
    """The endpoint's pagination with defaults filled in."""
    config = endpoint.pagination_config
    mode = endpoint.pagination
    if config is None:
        return Paging(mode, next_url_path=DEFAULT_NEXT_URL_PATH if mode == "cursor" else None)
    next_url = config.next_url_path
    if mode == "cursor" and next_url is None and config.cursor_path is None:
        next_url = DEFAULT_NEXT_URL_PATH
    return Paging(
        mode=mode,
        max_pages=config.max_pages if config.max_pages is not None else DEFAULT_MAX_PAGES,
        page_size=config.page_size,
        next_url_path=next_url if mode == "cursor" else None,
        cursor_path=config.cursor_path if mode == "cursor" else None,
        cursor_param=config.cursor_param if mode == "cursor" else None,
        offset_param=config.offset_param or "offset",
        limit_param=config.limit_param or "limit",
        page_param=config.page_param or "page",
        page_size_param=config.page_size_param or "page_size",
        start_page=config.start_page if config.start_page is not None else 1,
    )
