"""Raw landing against the local S3 server (SeaweedFS): keys, metadata, replay, async landing."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context

import pytest
from ingest_setup import run_script
from minio import Minio
from minio.helpers import DictType
from pydantic import SecretStr

from headwater.settings import Settings
from runner.config import ObjectStoreConfig
from runner.ingest.exceptions import TransientError
from runner.ingest.landing import (
    MAX_CHAIN_KEY,
    LandedPage,
    Lander,
    LandingConfig,
    chain_key,
    page_key,
    parse_chain_key,
    replay,
    source_path,
)
from runner.ingest.secrets import Redactor
from runner.objectstore import object_store

CANARY = "canary-key-7f3a9c"
URL = "https://api.example.test/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"


@pytest.fixture(scope="session")
def landing_store() -> ObjectStoreConfig:
    """The local S3 server, started (idempotently) by deploy/local/s3.sh."""
    run_script("s3.sh", "start")
    return Settings().object_store_config()


@pytest.fixture
def store(landing_store: ObjectStoreConfig) -> Minio:
    return object_store(landing_store)


@pytest.fixture
def config(landing_store: ObjectStoreConfig, store: Minio) -> Iterator[LandingConfig]:
    """A bucket of this test's own, not created yet: the lander must create it."""
    bucket = f"hw-landing-{uuid.uuid4().hex[:12]}"
    yield LandingConfig(bucket=bucket, object_store=landing_store)
    if store.bucket_exists(bucket):
        for item in store.list_objects(bucket, recursive=True):
            assert item.object_name is not None
            store.remove_object(bucket, item.object_name)
        store.remove_bucket(bucket)


def _body(endpoint: str, chain: str, page: int) -> bytes:
    return f'{{"endpoint": "{endpoint}", "chain": "{chain}", "page": {page}}}'.encode()


@pytest.mark.parametrize(
    ("variables", "fan_out", "expected"),
    [
        ({"ticker": "AAPL", "run_id": "r1"}, [], "all"),
        ({"ticker": "AAPL", "run_id": "r1"}, ["ticker"], "ticker=AAPL"),
        ({"ticker": "BRK/B"}, ["ticker"], "ticker=BRK%2FB"),
        ({"b": "2", "a": "x y"}, ["b", "a"], "a=x%20y,b=2"),
        ({"k": "a=b,c"}, ["k"], "k=a%3Db%2Cc"),
    ],
)
def test_chain_key(variables: dict[str, str], fan_out: list[str], expected: str) -> None:
    key = chain_key(variables, fan_out)
    assert key == expected
    assert "/" not in key
    assert parse_chain_key(key) == {name: variables[name] for name in fan_out}


def test_long_chain_key_is_hashed() -> None:
    key = chain_key({"ticker": "X" * 500}, ["ticker"])
    assert key.startswith("sha256-") and len(key) < MAX_CHAIN_KEY
    assert key == chain_key({"ticker": "X" * 500}, ["ticker"])
    assert parse_chain_key(key) == {}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"{URL}?adjusted=true&apiKey={CANARY}",
            "/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05",
        ),
        (f"https://user:{CANARY}@api.example.test/v1/x?cursor=abc", "/v1/x"),
        ("https://api.example.test", "/"),
        ("https://api.example.test/v1/caf\u00e9", "/v1/caf%C3%A9"),
    ],
)
def test_source_path_keeps_the_path_only(url: str, expected: str) -> None:
    assert source_path(url) == expected


def test_key_layout() -> None:
    config = LandingConfig("b", ObjectStoreConfig(), prefix="raw")
    key = page_key(config, "polygon", "run-1", "daily_bars", "ticker=AAPL", 7)
    assert key == "raw/polygon/run-1/daily_bars/ticker=AAPL/00007.json"


def test_put_and_replay_round_trip(config: LandingConfig, store: Minio) -> None:
    assert not store.bucket_exists(config.bucket)
    lander = Lander(config)
    chains = ["ticker=MSFT", "ticker=AAPL"]
    # Landed out of order, as concurrent chains land them.
    work = [(e, c, p) for p in (3, 1, 2) for c in chains for e in ("trades", "daily_bars")]
    for endpoint, chain, page in work:
        key = lander.put_page(
            "polygon", "run-1", endpoint, chain, page, _body(endpoint, chain, page), URL
        )
        assert key == f"raw/polygon/run-1/{endpoint}/{chain}/{page:05d}.json"
    # Another run and another provider share the bucket but not the replay.
    lander.put_page("polygon", "run-2", "daily_bars", "ticker=AAPL", 1, b"{}", URL)
    lander.put_page("other", "run-1", "daily_bars", "ticker=AAPL", 1, b"{}", URL)

    pages = list(replay(config, "polygon", "run-1"))

    assert store.bucket_exists(config.bucket)
    expected = sorted(work)
    assert [(p.endpoint, p.chain_key, p.page) for p in pages] == expected
    assert all(p.body == _body(p.endpoint, p.chain_key, p.page) for p in pages)
    assert list(replay(config, "polygon", "run-2")) == [
        LandedPage("daily_bars", "ticker=AAPL", 1, b"{}")
    ]
    assert list(replay(config, "polygon", "run-3")) == []


def test_replay_orders_by_page_number(config: LandingConfig) -> None:
    lander = Lander(config)
    for page in (100000, 10, 2, 99999):
        lander.put_page("p", "r", "e", "all", page, str(page).encode(), URL)
    assert [(p.page, p.body) for p in replay(config, "p", "r")] == [
        (2, b"2"),
        (10, b"10"),
        (99999, b"99999"),
        (100000, b"100000"),
    ]


def test_page_metadata(config: LandingConfig, store: Minio) -> None:
    before = datetime.now(UTC)
    key = Lander(config).put_page(
        "polygon", "r", "daily_bars", "ticker=AAPL", 1, b"[]", f"{URL}?a=1"
    )
    stat = store.stat_object(config.bucket, key)
    assert stat.content_type == "application/json"
    assert stat.size == 2
    assert stat.metadata is not None
    assert (
        stat.metadata["x-amz-meta-source-path"]
        == "/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"
    )
    fetched = datetime.fromisoformat(stat.metadata["x-amz-meta-fetched-at"])
    assert before <= fetched <= datetime.now(UTC)


def test_no_query_string_or_key_in_metadata(config: LandingConfig, store: Minio) -> None:
    redact = Redactor()
    redact.add(CANARY)
    # One API takes the key as a query parameter, another inside the path.
    urls = [f"{URL}?apiKey={CANARY}&cursor=c1", f"https://api.example.test/keys/{CANARY}/bars?x=1"]
    lander = Lander(config, redact)
    keys = [lander.put_page("p", "r", "e", "all", n, b"{}", url) for n, url in enumerate(urls, 1)]
    paths = []
    for key in keys:
        stat = store.stat_object(config.bucket, key)
        assert stat.metadata is not None
        headers = repr(dict(stat.metadata))
        assert CANARY not in headers and CANARY not in key
        assert "?" not in headers and "apiKey" not in headers and "cursor" not in headers
        paths.append(stat.metadata["x-amz-meta-source-path"])
    assert paths == ["/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05", "/keys/***/bars"]


def _land_in_child(lander: Lander) -> str:
    return lander.put_page("p", "r", "e", "ticker=AAPL", 1, b'{"from": "child"}', URL)


def test_lander_works_after_pickling_in_another_process(config: LandingConfig) -> None:
    lander = Lander(config)
    lander.put_page("p", "r", "e", "ticker=AAPL", 2, b"{}", URL)  # the parent's client is cached
    copy = pickle.loads(pickle.dumps(lander))
    assert copy.config == config
    # A fresh interpreter, like a Spark Python worker: it makes its own client.
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        key = pool.submit(_land_in_child, lander).result(timeout=120)
    assert key == "raw/p/r/e/ticker=AAPL/00001.json"
    assert [p.body for p in replay(config, "p", "r")] == [b'{"from": "child"}', b"{}"]


async def test_background_landing_lands_everything(config: LandingConfig) -> None:
    lander = Lander(config)
    async with lander.background(max_in_flight=3) as landing:
        for page in range(1, 21):
            await landing.put_page("p", "r", "e", "all", page, str(page).encode(), URL)
    assert len(landing.landed) == 20
    assert [p.body for p in replay(config, "p", "r")] == [str(n).encode() for n in range(1, 21)]


class _GatedLander(Lander):
    """Blocks every upload until the test opens the gate: shows what waits and what does not."""

    def __init__(self, config: LandingConfig) -> None:
        super().__init__(config)
        self.gate = threading.Event()

    def _upload(self, key: str, body: bytes, content_type: str, metadata: DictType) -> None:
        assert self.gate.wait(30)


async def test_background_landing_does_not_stall_the_loop() -> None:
    lander = _GatedLander(LandingConfig("b", ObjectStoreConfig()))
    async with lander.background(max_in_flight=2) as landing:
        await landing.put_page("p", "r", "e", "all", 1, b"{}", URL)
        await landing.put_page("p", "r", "e", "all", 2, b"{}", URL)
        # Both uploads hang, yet the loop runs on: fetching would go on meanwhile.
        started = time.monotonic()
        await asyncio.sleep(0.05)
        assert time.monotonic() - started < 1
        third = asyncio.create_task(landing.put_page("p", "r", "e", "all", 3, b"{}", URL))
        await asyncio.sleep(0.1)
        assert not third.done(), "a third page must wait while two are in flight"
        lander.gate.set()
        await asyncio.wait_for(third, 10)
    expected = [page_key(lander.config, "p", "r", "e", "all", n) for n in (1, 2, 3)]
    assert sorted(landing.landed) == expected


async def _land_pages(lander: Lander, count: int) -> None:
    async with lander.background(max_in_flight=2) as landing:
        for page in range(1, count + 1):
            await landing.put_page("p", "r", "e", "all", page, b"{}", URL)


async def test_background_landing_raises_the_first_failure(config: LandingConfig) -> None:
    wrong = dataclasses.replace(config.object_store, secret_key=SecretStr("not-the-secret"))
    lander = Lander(dataclasses.replace(config, object_store=wrong))
    with pytest.raises(TransientError, match=r"could not land page \d+ of e in s3://hw-landing-"):
        await _land_pages(lander, 3)
    with pytest.raises(TransientError) as raised:
        lander.put_page("p", "r", "e", "all", 1, b"{}", URL)
    assert "not-the-secret" not in str(raised.value)


def test_replay_of_a_missing_bucket_is_an_error(config: LandingConfig) -> None:
    with pytest.raises(TransientError, match=f"could not list s3://{config.bucket}/raw/p/r/"):
        list(replay(config, "p", "r"))
