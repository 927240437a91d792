"""Origins (scheme, host, port): where a spec's requests, and so its credentials, may go.

Credentials go to the origin of the spec's `base_url` only, and to the origins the spec lists in
`provider.config.allowed_origins`; the job refuses a next URL, a redirect or a templated path
that leads anywhere else (runner.ingest.fetch). Validation and the job share this definition.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(ValueError):
    """Not an absolute http(s) URL with a host; the message says what is wrong."""


def origin_of(url: str) -> str:
    """``scheme://host:port`` of an absolute http(s) URL, lowercased, the port always written."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise OriginError(f"`{url}` is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise OriginError(f"`{url}` is not an absolute http(s) URL with a host")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port or _DEFAULT_PORTS[scheme]}"


def check_origin_entry(text: str) -> str | None:
    """Why ``text`` is not an origin to list (``https://host[:port]``, nothing more), or None."""
    try:
        origin_of(text)
    except OriginError as exc:
        return str(exc)
    parts = urlsplit(text.strip())
    if parts.username is not None or parts.password is not None:
        return f"`{text}` carries user info; an origin is `scheme://host[:port]`"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"`{text}` has a path or query; an origin is `scheme://host[:port]`"
    if "{{" in text:
        return f"`{text}` is a template; an origin is written out"
    return None
