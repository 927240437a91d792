"""HTTP request chains: auth, pagination, per-group rate limits, retries with backoff and jitter.

Only 429 (after its Retry-After, capped by the platform), 5xx, malformed bodies and connection
errors are retried; any other 4xx is terminal at once, but for a first 401 with an OAuth2
token: the token is fetched again and the request sent once more. OAuth2 tokens are also
fetched again before their `expires_in` runs out. `max_pages` caps every chain. Every request,
and so every credential, goes to the origin of the spec's base_url or one it allows: a next
URL, a redirect or a templated path that leads elsewhere is refused before anything is sent
there.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from runner.ingest.exceptions import (
    HttpTerminalError,
    HttpTransientError,
    RefusedError,
    TerminalError,
)
from runner.ingest.inputs import Chain
from runner.ingest.ratelimit import TokenBucket
from runner.ingest.secrets import Redactor
from runner.ingest.templates import Filler
from uis_compiler import jsonpath
from uis_compiler.origins import OriginError, origin_of
from uis_compiler.plan import Auth, Endpoint, Http, SparkPlan

#: Redirects followed per request (each to an allowed origin), as browsers and httpx cap them.
MAX_REDIRECTS = 5
#: The longest a Retry-After is honoured, unless the job's configuration says otherwise
#: (HEADWATER_FETCH_MAX_RETRY_AFTER_SECONDS): a source may ask for days.
DEFAULT_MAX_RETRY_AFTER = 120.0
#: An OAuth2 token is fetched again this long before it expires (at most a tenth of its
#: lifetime): a request sent just before the expiry may reach the source after it.
OAUTH_EXPIRY_MARGIN = 30.0


@dataclass
class FetchStats:
    """What fetching cost, summed over chains."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    bytes: int = 0
    records: int = 0
    rate_limit_wait_seconds: float = 0.0

    def add(self, other: FetchStats) -> None:
        self.requests += other.requests
        self.pages += other.pages
        self.retries += other.retries
        self.bytes += other.bytes
        self.records += other.records
        self.rate_limit_wait_seconds += other.rate_limit_wait_seconds


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: its records, and the raw body for landing."""

    chain: Chain
    number: int
    url: str
    body: bytes
    records: list[Any]


@dataclass(frozen=True, slots=True)
class _Token:
    """A cached OAuth2 access token and when to stop using it (monotonic seconds; None: never)."""

    value: str
    refresh_at: float | None

    def fresh(self, now: float) -> bool:
        return self.refresh_at is None or now < self.refresh_at


def _lifetime(answer: dict[str, Any]) -> float | None:
    """A token answer's `expires_in` in seconds; None when absent or not a positive number."""
    value = answer.get("expires_in")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


@dataclass
class _Request:
    url: str
    params: dict[str, str] = field(default_factory=dict)
    #: Where the URL came from, for a refusal's message.
    source: str = "the endpoint's URL"


def _with_params(url: str, params: dict[str, str]) -> httpx.URL | str:
    """``url`` with ``params`` added to its own query (which they override)."""
    # httpx replaces a URL's own query with `params`: merge them, or a next_url's cursor (or a
    # query written in the path) is lost when a key goes in the query. A URL without a query
    # takes them as they are (parsing it twice is a tenth of a fetch's CPU).
    if params and "?" in url:
        return httpx.URL(url).copy_merge_params(params)
    if params:
        return f"{url}?{httpx.QueryParams(params)}"
    return url


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """Fetches the pages of request chains for one worker (one event loop)."""

    def __init__(
        self,
        plan: SparkPlan,
        filler: Callable[[Chain], Filler],
        redact: Redactor,
        limits: dict[str, TokenBucket],
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        if plan.http is None:
            raise TerminalError("the plan has no HTTP settings: is its provider an HTTP API?")
        self.plan = plan
        self.http: Http = plan.http
        self.filler = filler
        self.redact = redact
        self.limits = limits
        self.stats = FetchStats()
        self._sleep = sleep
        self.max_retry_after = max_retry_after
        self._oauth_tokens: dict[str, _Token] = {}
        self._oauth_lock = asyncio.Lock()
        try:
            self.origins = frozenset(
                origin_of(url) for url in (self.http.base_url, *self.http.allowed_origins)
            )
        except OriginError as exc:
            raise TerminalError(f"the plan's base_url or allowed_origins: {exc}") from None

    async def pages(self, client: httpx.AsyncClient, chain: Chain) -> AsyncIterator[Page]:
        """Every page of one chain, following its pagination until the end or max_pages."""
        endpoint = self.plan.endpoints[chain.endpoint]
        fill = self.filler(chain)
        paging = endpoint.pagination
        steps = jsonpath.parse(endpoint.response_path)
        request = _Request(
            fill.url(endpoint.url), {k: fill.text(v) for k, v in endpoint.query.items()}
        )
        offset = 0
        # `or 1` would turn a start_page of 0 into 1 and skip the first page.
        page_number = 1 if paging.start_page is None else paging.start_page
        if paging.mode == "offset":
            request.params[paging.offset_param or "offset"] = "0"
        if paging.mode == "page":
            request.params[paging.page_param or "page"] = str(page_number)
        if paging.page_size is not None and paging.mode != "none":
            # page_size sets the limit parameter of every mode (a cursor API's `limit` too: a
            # next URL then carries it on, a cursor token is sent beside it).
            size_param = paging.page_size_param if paging.mode == "page" else paging.limit_param
            request.params[size_param or "limit"] = str(paging.page_size)
        for number in range(1, paging.max_pages + 1):
            response, document = await self._send(client, endpoint, fill, request)
            records = jsonpath.extract(document, steps)
            self.stats.pages += 1
            self.stats.records += len(records)
            self.stats.bytes += len(response.content)
            yield Page(chain, number, str(response.url), response.content, records)
            if paging.mode == "none":
                return
            if paging.mode == "cursor":
                if paging.next_url_path:
                    following = jsonpath.first(document, jsonpath.parse(paging.next_url_path))
                    if not following:
                        return
                    # The next URL carries its own query (and never a key: auth is re-applied,
                    # once its origin is known to be allowed).
                    following_url = urljoin(str(response.url), str(following))
                    request = _Request(following_url, source="the response's next URL")
                else:
                    token = jsonpath.first(document, jsonpath.parse(paging.cursor_path or "$"))
                    if token in (None, ""):
                        return
                    request.params[paging.cursor_param or "cursor"] = str(token)
            else:
                short = paging.page_size is not None and len(records) < paging.page_size
                if not records or short:
                    return
                if paging.mode == "offset":
                    offset += len(records)
                    request.params[paging.offset_param or "offset"] = str(offset)
                else:
                    page_number += 1
                    request.params[paging.page_param or "page"] = str(page_number)

    async def _send(
        self, client: httpx.AsyncClient, endpoint: Endpoint, fill: Filler, request: _Request
    ) -> tuple[httpx.Response, Any]:
        """The response and its parsed body, after retries of what may pass on a new attempt."""
        retry = self.http.retry
        for attempt in range(1, retry.max_attempts + 1):
            try:
                response = await self._attempt(client, endpoint, fill, request)
                # A cut body is a transfer fault like a reset: it is retried too.
                return response, self._json(response)
            except HttpTransientError as exc:
                if attempt == retry.max_attempts:
                    raise HttpTransientError(
                        f"{exc} (gave up after {attempt} attempts)", exc.status, exc.retry_after
                    ) from exc
                self.stats.retries += 1
                backoff = min(retry.max_backoff_seconds, retry.backoff_seconds * 2 ** (attempt - 1))
                # Full jitter spreads the retries of many chains; Retry-After is a floor, up to
                # the platform's cap (a hostile source could otherwise hold a task for days).
                asked = min(exc.retry_after or 0.0, self.max_retry_after)
                delay = max(asked, random.uniform(0, backoff))
                if exc.retry_after is not None:
                    self.stats.rate_limit_wait_seconds += delay
                await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(
        self, client: httpx.AsyncClient, endpoint: Endpoint, fill: Filler, request: _Request
    ) -> httpx.Response:
        group = endpoint.rate_limit_group
        if group is not None and group in self.limits:
            self.stats.rate_limit_wait_seconds += await self.limits[group].acquire()
        # Refused before a token is fetched or a header filled: nothing goes to a foreign host.
        self._allow(request.url, request.source)
        headers = {name: fill.text(value) for name, value in endpoint.headers.items()}
        credentials: dict[str, str] = {}
        auth = await self._authenticate(client, endpoint.auth, fill, headers, credentials)
        response = await self._exchange(client, endpoint, fill, request, headers, credentials, auth)
        oauth = endpoint.auth
        if response.status_code == 401 and oauth is not None and oauth.type == "oauth2":
            # The token expired early or was revoked: one new token, one more try. A second
            # 401 means the client may not read this endpoint, which a retry cannot change.
            name = oauth.name or "Authorization"
            stale = headers[name].removeprefix("Bearer ")
            headers[name] = f"Bearer {await self._oauth(client, oauth, fill, stale=stale)}"
            response = await self._exchange(
                client, endpoint, fill, request, headers, credentials, auth
            )
            if response.status_code == 401:
                excerpt = " ".join(self.redact(response.text).split())[:300]
                raise HttpTerminalError(
                    f"{endpoint.name}: HTTP 401 from {self._where(request.url)} again with a new "
                    "OAuth2 token: the client's credentials or scopes do not grant this endpoint: "
                    f"{excerpt}",
                    401,
                )
        return self._checked(endpoint, request, response)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        endpoint: Endpoint,
        fill: Filler,
        request: _Request,
        headers: dict[str, str],
        credentials: dict[str, str],
        auth: httpx.Auth | None,
    ) -> httpx.Response:
        """One request and the redirects it leads to, each hop checked before it is followed."""
        body = fill.text(endpoint.body) if endpoint.body is not None else None
        method, url = endpoint.method, _with_params(request.url, {**request.params, **credentials})
        for hop in range(MAX_REDIRECTS + 1):
            self.stats.requests += 1
            try:
                response = await client.request(
                    method, url, headers=headers, content=body, auth=auth,
                    timeout=self.http.timeout_seconds,
                )  # fmt: skip
            except httpx.TransportError as exc:
                raise HttpTransientError(
                    f"{endpoint.name}: {type(exc).__name__} calling {self._where(request.url)}"
                ) from None
            if not response.is_redirect or hop == MAX_REDIRECTS:
                break
            # Followed by hand, so each hop's origin is checked before the credentials go there.
            target = urljoin(str(response.url), response.headers["location"])
            self._allow(target, f"a redirect ({response.status_code}) from {self._where(str(url))}")
            url = _with_params(target, credentials)
            if response.status_code not in (307, 308):
                method, body = "GET", None
        return response

    def _allow(self, url: str, source: str) -> None:
        """Refuse a URL outside the spec's origins (a hostile source may name any host)."""
        try:
            origin = origin_of(url)
        except OriginError:
            raise RefusedError(
                f"{source} is not an absolute http(s) URL; nothing was sent"
            ) from None
        if origin not in self.origins:
            allowed = ", ".join(sorted(self.origins))
            message = (
                f"{source} leads to {origin}, outside the spec's origins ({allowed}); nothing "
                "was sent there. Credentials go to base_url's origin only: if that host is the "
                "source's own, list it in provider.config.allowed_origins"
            )
            raise RefusedError(self.redact(" ".join(message.split()))[:1000])

    def _checked(
        self, endpoint: Endpoint, request: _Request, response: httpx.Response
    ) -> httpx.Response:
        if response.status_code == 429 or response.status_code >= 500:
            raise HttpTransientError(
                f"{endpoint.name}: HTTP {response.status_code} from {self._where(request.url)}",
                response.status_code,
                retry_after(response),
            )
        if response.status_code >= 300:
            # Redacted whole, then cut (a cut first could leave part of an echoed key), on one
            # line (the driver finds the error's class by its line: a body must not forge one).
            excerpt = " ".join(self.redact(response.text).split())[:300]
            what = "too many redirects" if response.is_redirect else "HTTP"
            raise HttpTerminalError(
                f"{endpoint.name}: {what} {response.status_code} from "
                f"{self._where(request.url)}: {excerpt}",
                response.status_code,
            )
        return response

    def _where(self, url: str) -> str:
        # Query strings may carry keys (apiKey=…): name the path only.
        return self.redact(url.split("?", 1)[0])

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise HttpTransientError(
                f"the body from {self._where(str(response.url))} is not valid JSON",
                response.status_code,
            ) from None

    async def _authenticate(
        self,
        client: httpx.AsyncClient,
        auth: Auth | None,
        fill: Filler,
        headers: dict[str, str],
        params: dict[str, str],
    ) -> httpx.Auth | None:
        if auth is None:
            return None
        if auth.type in ("api_key", "bearer"):
            value = fill.text(auth.value or "")
            if auth.location == "query":
                params[auth.name or "api_key"] = value
            else:
                headers[auth.name or "Authorization"] = value
            return None
        if auth.type == "basic":
            return httpx.BasicAuth(fill.text(auth.username or ""), fill.text(auth.password or ""))
        if auth.type == "oauth2":
            headers[auth.name or "Authorization"] = (
                f"Bearer {await self._oauth(client, auth, fill)}"
            )
            return None
        raise TerminalError(f"`{auth.type}` authentication is not supported by the Spark job")

    async def _oauth(
        self, client: httpx.AsyncClient, auth: Auth, fill: Filler, *, stale: str | None = None
    ) -> str:
        """A client-credentials access token, fetched once per worker and again as it expires.

        ``stale`` is a token the source refused: it is replaced, unless another chain already
        replaced it while this one waited.
        """
        # A worker's chains start (and meet an expiry) at once: without the lock each would
        # fetch its own token.
        async with self._oauth_lock:
            url = auth.token_url or ""
            cached = self._oauth_tokens.get(url)
            if cached is not None and cached.value != stale and cached.fresh(time.monotonic()):
                return cached.value
            self._oauth_tokens.pop(url, None)
            return await self._oauth_token(client, auth, fill)

    async def _oauth_token(self, client: httpx.AsyncClient, auth: Auth, fill: Filler) -> str:
        url = auth.token_url or ""
        asked_at = time.monotonic()
        data = {
            "grant_type": "client_credentials",
            "client_id": fill.text(auth.client_id or ""),
            "client_secret": fill.text(auth.client_secret or ""),
        }
        if auth.scopes:
            data["scope"] = " ".join(auth.scopes)
        try:
            response = await client.post(url, data=data, timeout=self.http.timeout_seconds)
        except httpx.TransportError as exc:
            raise HttpTransientError(f"token endpoint: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            # Retried with the request that needed the token, like any other 429 or 5xx.
            raise HttpTransientError(
                f"token endpoint answered {response.status_code}",
                response.status_code,
                retry_after(response),
            )
        if response.status_code != 200:
            raise HttpTerminalError(
                f"token endpoint answered {response.status_code}", response.status_code
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise HttpTerminalError("token endpoint sent no access_token", response.status_code)
        self.redact.add(token)
        lifetime = _lifetime(answer)
        refresh_at = (
            None
            if lifetime is None
            # From when it was asked for: the source's clock started no later than that.
            else asked_at + lifetime - min(OAUTH_EXPIRY_MARGIN, lifetime / 10)
        )
        self._oauth_tokens[url] = _Token(token, refresh_at)
        return token
