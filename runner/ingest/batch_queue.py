"""A bounded hand-off of Arrow batches from a task's event loop to the iterator Spark consumes.

mapInArrow pulls batches from a plain iterator while a task's chains are fetched on an asyncio
loop. The loop runs in a thread of its own and puts each batch as it is made; when the consumer
is ``capacity`` batches behind, ``put`` waits, so the fetching waits too and a task holds a few
batches however many pages its chains have.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

#: What the producer calls with each batch; it returns once the batch has room in the queue.
Put = Callable[[pa.RecordBatch], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END = object()
#: How often a waiting consumer looks whether the loop's thread is still alive.
_POLL_SECONDS = 1.0


class _Loop:
    """The producer's event loop in a daemon thread, and the queue it fills.

    The items cross in a thread-safe queue; the loop holds a semaphore of ``capacity`` places,
    taken by each batch put and given back by the consumer as it takes one. The end (or the
    failure) needs no place, so the loop may close as soon as it is put.
    """

    def __init__(self, produce: Callable[[Put], Awaitable[None]], capacity: int) -> None:
        self._produce = produce
        self._capacity = capacity
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._places: asyncio.Semaphore | None = None
        self._task: asyncio.Task[None] | None = None
        # A daemon: a task killed by Spark (or a consumer that walked away) never waits for it.
        self.thread = threading.Thread(target=self._run, name="ingest-fetch", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        try:
            # asyncio.run ends what the producer left (tasks, async generators) as it returns.
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(self._main())
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._places = asyncio.Semaphore(self._capacity)
        self._task = asyncio.current_task()
        self._ready.set()
        try:
            await self._produce(self._put)
        except Exception as exc:
            self._items.put(_Failed(exc))
        else:
            self._items.put(_END)

    async def _put(self, batch: pa.RecordBatch) -> None:
        assert self._places is not None
        await self._places.acquire()
        self._items.put(batch)

    def _call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop, unless it has closed (then there is nothing to do)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback)

    def get(self) -> object:
        """The next item, waiting for it (the loop's thread must still run to give one)."""
        while True:
            try:
                item = self._items.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.thread.is_alive() and self._items.empty():
                    raise RuntimeError("the fetch loop's thread ended without a result") from None
                continue
            if isinstance(item, pa.RecordBatch) and self._places is not None:
                self._call(self._places.release)
            return item

    def stop(self) -> None:
        """Cancel what the producer still does and wait for its thread (idempotent)."""
        if self.thread.is_alive() and self._task is not None:
            self._call(self._task.cancel)
        self.thread.join()


def batches(
    produce: Callable[[Put], Awaitable[None]], capacity: int = 2
) -> Iterator[pa.RecordBatch]:
    """The batches ``produce`` puts, as they come; its exception is raised here after them.

    ``produce`` runs on an event loop of its own; a consumer that stops early cancels it.
    """
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    running = _Loop(produce, capacity)
    running.start()
    try:
        while True:
            item = running.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            assert isinstance(item, pa.RecordBatch)
            yield item
    finally:
        running.stop()
