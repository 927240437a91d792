"""The query of the two endpoints: time bounds, limits, sort order and ``cursor`` tokens."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from standins.polygon.days import day_of_ms, first_day_from_ms
from standins.polygon.exceptions import RequestError

AGGS_DEFAULT_LIMIT, AGGS_MAX_LIMIT = 5000, 50_000
TICKERS_DEFAULT_LIMIT, TICKERS_MAX_LIMIT = 100, 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MS = re.compile(r"^-?\d{1,15}$")
# Bounds in either form are limited to 1900-01-01 … 9998-12-31, so that every conversion between
# instants and New York days stays inside what datetime can represent.
_FIRST_DAY, _LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)
_MIN_MS, _MAX_MS = -2_208_988_800_000, 253_370_764_800_000


def first_day(text: str) -> int:
    """The ordinal of the first day a ``from`` bound (date or epoch ms) admits."""
    if _MS.match(text):
        ms = _epoch_ms(text, "from")
        return first_day_from_ms(ms)
    return _date(text, "from").toordinal()


def last_day(text: str) -> int:
    """The ordinal of the last day a ``to`` bound (date or epoch ms) admits."""
    if _MS.match(text):
        return day_of_ms(_epoch_ms(text, "to")).toordinal()
    return _date(text, "to").toordinal()


def limit(text: str | None, default: int, maximum: int) -> int:
    """A ``limit`` parameter: a positive integer, capped at ``maximum`` as Polygon does."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"limit must be an integer, got {text!r}") from None
    if value < 1:
        raise RequestError(f"limit must be at least 1, got {value}")
    return min(value, maximum)


def flag(text: str | None, name: str, default: bool) -> bool:
    """A boolean parameter (``true``/``false``)."""
    if text is None:
        return default
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise RequestError(f"{name} must be true or false, got {text!r}")
    return lowered == "true"


def sort_order(text: str | None) -> str:
    """The ``sort`` parameter of aggregates: ``asc`` (default) or ``desc``."""
    if text is None:
        return "asc"
    if text not in ("asc", "desc"):
        raise RequestError(f"sort must be asc or desc, got {text!r}")
    return text


def encode_cursor(values: Mapping[str, str | int]) -> str:
    """An opaque ``cursor`` token (URL-safe base64 of a query string, like Polygon's)."""
    raw = urlencode({key: str(value) for key, value in values.items()})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, str]:
    """The values in a ``cursor`` token; a token this server did not make is a RequestError."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        values = dict(parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        values = {}
    if not values:
        raise RequestError(f"cursor {token!r} is not a cursor this server issued")
    return values


def _date(text: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise RequestError(
            f"Could not parse the time parameter: '{name}'. Use YYYY-MM-DD or Unix MS Timestamps"
        )
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise RequestError(f"the time parameter '{name}' is out of range: {text}")
    return day


def _epoch_ms(text: str, name: str) -> int:
    value = int(text)
    if not _MIN_MS <= value <= _MAX_MS:
        raise RequestError(f"the time parameter '{name}' is out of range: {value}")
    return value
