"""Raw landing: every fetched page as one object in S3 (MinIO in production), read back for replay.

Keys are ``<prefix>/<provider>/<run_id>/<endpoint>/<chain_key>/<page:05d>.json``; each object
carries the page's source URL path (never its query string, which may hold a key), when it was
fetched, and its content type. The `Lander` is picklable, so it can travel to Spark executors;
each process makes its own minio client on first use.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from minio import Minio
from minio.error import MinioException, S3Error
from minio.helpers import DictType
from urllib3.exceptions import HTTPError

from runner.config import ObjectStoreConfig

# Failures are TransientError itself: the job unwraps errors raised on executors by their
# name in runner.ingest.exceptions, and the object store may well answer on a retry.
from runner.ingest.exceptions import TransientError
from runner.objectstore import ensure_bucket, object_store

#: A chain without fan-out values (one request chain per endpoint).
SINGLE_CHAIN = "all"
#: S3 keys end at 1,024 bytes; longer chain keys are replaced by their hash.
MAX_CHAIN_KEY = 200
_PATH_SAFE = "/%-._~!$&'()*+,;=:@"


@dataclass(frozen=True, slots=True)
class LandingConfig:
    """Which bucket and key prefix raw pages land under, on which object store."""

    bucket: str
    object_store: ObjectStoreConfig
    prefix: str = "raw"


class LandedPage(NamedTuple):
    """One page read back: where it came from, and its body exactly as fetched."""

    endpoint: str
    chain_key: str
    page: int
    body: bytes


def _segment(text: str) -> str:
    """One key segment: `/` and other reserved characters percent-encoded."""
    return quote(text, safe="")


def chain_key(variables: Mapping[str, str], fan_out: Sequence[str]) -> str:
    """The chain's fan-out values as one URL-safe segment: sorted `name=value` joined by `,`."""
    if not fan_out:
        return SINGLE_CHAIN
    key = ",".join(f"{_segment(n)}={_segment(variables[n])}" for n in sorted(fan_out))
    if len(key) > MAX_CHAIN_KEY:
        return "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return key


def parse_chain_key(key: str) -> dict[str, str]:
    """The fan-out values of a chain key (empty for a single chain or a hashed key)."""
    if key == SINGLE_CHAIN or key.startswith("sha256-"):
        return {}
    pairs = (pair.split("=", 1) for pair in key.split(","))
    return {unquote(name): unquote(value) for name, value in pairs}


_lock = threading.Lock()
_clients: dict[ObjectStoreConfig, tuple[int, Minio]] = {}
_buckets: set[tuple[int, ObjectStoreConfig, str]] = set()


def _client(config: ObjectStoreConfig) -> Minio:
    """This process's client for the store (a forked child makes its own connection pool)."""
    pid = os.getpid()
    with _lock:
        cached = _clients.get(config)
        if cached is None or cached[0] != pid:
            cached = (pid, object_store(config))
            _clients[config] = cached
        return cached[1]


def _ensure_bucket(config: LandingConfig) -> None:
    marker = (os.getpid(), config.object_store, config.bucket)
    if marker in _buckets:
        return
    try:
        ensure_bucket(_client(config.object_store), config.bucket)
    except S3Error as exc:
        # Another executor created it between our check and our create.
        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    _buckets.add(marker)


def _run_prefix(config: LandingConfig, provider: str, run_id: str) -> str:
    parts = [config.prefix.strip("/"), _segment(provider), _segment(run_id)]
    return "/".join(part for part in parts if part) + "/"


def page_key(
    config: LandingConfig, provider: str, run_id: str, endpoint: str, chain: str, page: int
) -> str:
    """The object key of one page."""
    return f"{_run_prefix(config, provider, run_id)}{_segment(endpoint)}/{chain}/{page:05d}.json"


def source_path(url: str) -> str:
    """The URL's path only: no query string (it may carry a key), no host, no user info."""
    return quote(urlsplit(url).path or "/", safe=_PATH_SAFE)


class Lander:
    """Lands pages of one job; picklable (its config and redactor), so executors can use it."""

    def __init__(self, config: LandingConfig, redact: Callable[[str], str] | None = None) -> None:
        self.config = config
        self.redact = redact

    def put_page(
        self,
        provider: str,
        run_id: str,
        endpoint: str,
        chain_key: str,
        page_number: int,
        body: bytes,
        url: str,
        *,
        content_type: str = "application/json",
        fetched_at: datetime | None = None,
    ) -> str:
        """Writes one page (blocking) and returns its key; raises TransientError."""
        key = page_key(self.config, provider, run_id, endpoint, chain_key, page_number)
        path = source_path(url)
        # Some APIs put the key in the path itself.
        path = self.redact(path) if self.redact else path
        metadata: DictType = {
            "source-path": path,
            "fetched-at": (fetched_at or datetime.now(UTC)).isoformat(),
        }
        try:
            self._upload(key, body, content_type, metadata)
        except (MinioException, HTTPError, OSError) as exc:
            raise TransientError(
                f"could not land page {page_number} of {endpoint} in "
                f"s3://{self.config.bucket}/{key}: {type(exc).__name__}: {exc}"
            ) from exc
        return key

    def _upload(self, key: str, body: bytes, content_type: str, metadata: DictType) -> None:
        """One object into the landing bucket (made on first use)."""
        _ensure_bucket(self.config)
        _client(self.config.object_store).put_object(
            self.config.bucket,
            key,
            io.BytesIO(body),
            len(body),
            content_type=content_type,
            metadata=metadata,
        )

    def background(self, max_in_flight: int = 4) -> BackgroundLanding:
        """Lands pages from an event loop on a small thread pool, so fetching goes on meanwhile."""
        return BackgroundLanding(self, max_in_flight)


class BackgroundLanding:
    """An async context: `put_page` hands a page to a thread and returns; exit waits for all."""

    # At most `max_in_flight` pages are in flight: beyond that `put_page` waits, so a slow store
    # slows fetching down instead of filling memory. The first failure is raised by the next
    # `put_page`, or on exit.

    def __init__(self, lander: Lander, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.lander = lander
        self.max_in_flight = max_in_flight
        self.landed: list[str] = []
        self._pending: set[asyncio.Future[str]] = set()
        self._failure: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    async def __aenter__(self) -> BackgroundLanding:
        # Made here, inside the running loop: each Spark task runs a loop of its own.
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="landing")
        self._slots = asyncio.Semaphore(self.max_in_flight)
        return self

    async def put_page(
        self,
        provider: str,
        run_id: str,
        endpoint: str,
        chain_key: str,
        page_number: int,
        body: bytes,
        url: str,
    ) -> None:
        """Starts landing one page; waits only while `max_in_flight` pages are in flight."""
        if self._pool is None or self._slots is None:
            raise RuntimeError("use `async with lander.background() as landing:` first")
        self._raise_failure()
        await self._slots.acquire()
        work = functools.partial(
            self.lander.put_page, provider, run_id, endpoint, chain_key, page_number, body, url
        )
        future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[str]) -> None:
        self._pending.discard(future)
        assert self._slots is not None
        self._slots.release()
        if future.cancelled():
            return
        failure = future.exception()
        if failure is None:
            self.landed.append(future.result())
        elif self._failure is None:
            self._failure = failure

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._pending:
                await asyncio.wait(set(self._pending))
        finally:
            assert self._pool is not None
            # Nothing is left after the wait; when it was cancelled, the loop must not block.
            self._pool.shutdown(wait=False, cancel_futures=True)
        if kind is None:
            self._raise_failure()


def _parse_key(name: str, prefix: str) -> tuple[str, str, int] | None:
    """(endpoint, chain key, page) of a landed key under ``prefix``; None for anything else."""
    parts = name.removeprefix(prefix).split("/")
    if not name.startswith(prefix) or len(parts) != 3 or not parts[2].endswith(".json"):
        return None
    number = parts[2].removesuffix(".json")
    if not number.isdigit():
        return None
    return unquote(parts[0]), parts[1], int(number)


def replay(config: LandingConfig, provider: str, run_id: str) -> Iterator[LandedPage]:
    """A run's landed pages, by endpoint, chain key and page number; raises TransientError."""
    client = _client(config.object_store)
    prefix = _run_prefix(config, provider, run_id)
    try:
        names = [o.object_name for o in client.list_objects(config.bucket, prefix, recursive=True)]
    except (MinioException, HTTPError, OSError) as exc:
        raise TransientError(f"could not list s3://{config.bucket}/{prefix}: {exc}") from exc
    # Sorted by number, not by name: a chain may pass 99,999 pages, where names stop sorting.
    found = sorted(
        (parsed, name)
        for name in names
        if name is not None and (parsed := _parse_key(name, prefix)) is not None
    )
    for (endpoint, chain, page), name in found:
        try:
            response = client.get_object(config.bucket, name)
            try:
                body = response.read()
            finally:
                response.close()
                response.release_conn()
        except (MinioException, HTTPError, OSError) as exc:
            raise TransientError(f"could not read s3://{config.bucket}/{name}: {exc}") from exc
        yield LandedPage(endpoint, chain, page, body)
