"""Opaque keyset cursors: the sort key and id of the last row seen, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from api.exceptions import InvalidInputError


def encode(kind: str, key: Any, ident: int) -> str:
    """A cursor after the row (``key``, ``ident``) of a listing sorted by ``kind``."""
    if isinstance(key, datetime):
        key = key.isoformat()
    raw = json.dumps([kind, key, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str) -> tuple[Any, int]:
    """The (sort key, id) in ``cursor``; InvalidInputError when it is not ours or not for ``kind``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found, key, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInputError("after", "the cursor is not one this API produced") from exc
    if found != kind or not isinstance(ident, int):
        raise InvalidInputError(
            "after", f"the cursor belongs to a listing sorted by {found}, not by {kind}"
        )
    return key, ident
