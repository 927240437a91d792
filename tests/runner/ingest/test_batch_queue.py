"""The hand-off of Arrow batches from an event loop to a plain iterator: order, back-pressure,
errors after the batches before them, and a consumer that stops early."""

from __future__ import annotations

import asyncio
import threading
import time

import pyarrow as pa
import pytest

from runner.ingest.batch_queue import Put, batches
from runner.ingest.exceptions import TerminalError


def batch(number: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"n": [number]})


def numbers(found: list[pa.RecordBatch]) -> list[int]:
    return [b.column(0)[0].as_py() for b in found]


def test_batches_come_in_order_and_the_loop_ends_with_them() -> None:
    async def produce(put: Put) -> None:
        for number in range(5):
            await put(batch(number))

    assert numbers(list(batches(produce, capacity=1))) == list(range(5))
    assert not any(thread.name == "ingest-fetch" for thread in threading.enumerate())


def test_the_producer_waits_while_the_queue_is_full() -> None:
    put_so_far: list[int] = []

    async def produce(put: Put) -> None:
        for number in range(10):
            await put(batch(number))
            put_so_far.append(number)

    found = batches(produce, capacity=3)
    first = next(found)
    time.sleep(0.3)
    # The consumer holds one batch and three wait: the fourth put has not returned yet.
    assert put_so_far == [0, 1, 2, 3]
    assert numbers([first, *found]) == list(range(10))
    assert put_so_far == list(range(10))


def test_an_error_comes_after_the_batches_put_before_it() -> None:
    async def produce(put: Put) -> None:
        await put(batch(1))
        await put(batch(2))
        raise TerminalError("column `n` is a number, but the source sent 'x'")

    found = batches(produce)
    assert numbers([next(found), next(found)]) == [1, 2]
    with pytest.raises(TerminalError, match="column `n` is a number"):
        next(found)


def test_a_consumer_that_stops_cancels_the_producer() -> None:
    canceled = threading.Event()

    async def produce(put: Put) -> None:
        try:
            for number in range(1000):
                await put(batch(number))
        except asyncio.CancelledError:
            canceled.set()
            raise

    found = batches(produce, capacity=2)
    next(found)
    found.close()  # type: ignore[attr-defined]
    assert canceled.is_set()
    assert not any(thread.name == "ingest-fetch" for thread in threading.enumerate())


def test_a_queue_needs_a_place() -> None:
    async def produce(put: Put) -> None:
        await put(batch(0))

    with pytest.raises(ValueError, match="capacity must be at least 1"):
        next(batches(produce, capacity=0))
