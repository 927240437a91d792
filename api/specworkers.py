"""validateSpec and compileSpec run in worker processes, not on the API's event loop.

Validating a large spec is pure Python for a second or more; on the event loop it would stall
every other request, and in a thread it would still hold the loop's GIL. A small process pool
(forkserver: no fork of the threaded API process) takes the work, and the request that asked
for it waits without blocking anyone. The pool starts on first use; its server preloads the
compiler, so a new worker starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from uis_compiler import validate
from uis_compiler.compiler import compile_result
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.exceptions import CompileError
from uis_compiler.grants import Grants
from uis_compiler.types import Engine, Issue


@dataclass(frozen=True, slots=True)
class Checked:
    """What validateSpec and compileSpec report (small, so it pickles back cheaply)."""

    valid: bool
    version: str | None
    engine: str | None
    issues: tuple[Issue, ...]
    #: The compiled artifact (compileSpec only); None when compilation refused.
    output: str | None = None


def check(text: str, strict: bool, grants: Grants) -> Checked:
    """Validate ``text`` (runs in a worker process)."""
    result = validate(text, strict=strict, grants=grants)
    return Checked(
        valid=result.valid,
        version=result.spec.version if result.spec else None,
        engine=result.engine,
        issues=tuple(result.issues),
    )


def build(text: str, engine: Engine, grants: Grants, options: CompileOptions) -> Checked:
    """Validate ``text`` for ``engine`` and compile it (runs in a worker process)."""
    result = validate(text, engine=engine, grants=grants)
    try:
        output = compile_result(result, engine, options)
    except CompileError as exc:
        return Checked(False, None, engine, tuple(exc.issues))
    return Checked(
        True,
        result.spec.version if result.spec else None,
        engine,
        tuple(result.issues),
        output,
    )


def _ready() -> bool:
    return True


class SpecWorkers:
    """The API process's pool of spec workers.

    Starting a worker blocks its caller until the forkserver has imported the compiler, so the
    pool is started in a thread (at the API's start, or by the first request) and requests
    wait for it without blocking the event loop.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._starting: asyncio.Future[ProcessPoolExecutor] | None = None

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
        # The first worker is started here, not by a submit on the event loop (further ones,
        # with HEADWATER_SPEC_WORKERS above 1, start as the backlog needs them).
        for _ in range(self.processes):
            pool.submit(_ready).result()
        return pool

    def start(self) -> None:
        """Starts the pool in the background (the API's lifespan calls this)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start))

    async def _run(self, work: Callable[..., Checked], *args: object) -> Checked:
        self.start()
        starting = self._starting
        assert starting is not None
        pool = await starting
        try:
            return await asyncio.wrap_future(pool.submit(work, *args))
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the next request starts a new pool (once,
            # however many requests failed with this one).
            if self._starting is starting:
                self._starting = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def check(self, text: str, strict: bool, grants: Grants) -> Checked:
        return await self._run(check, text, strict, grants)

    async def build(
        self, text: str, engine: Engine, grants: Grants, options: CompileOptions
    ) -> Checked:
        return await self._run(build, text, engine, grants, options)

    async def close(self) -> None:
        starting, self._starting = self._starting, None
        if starting is None:
            return
        try:
            pool = await starting
        except Exception:  # it never started: nothing to stop, and the shutdown goes on
            return
        pool.shutdown(wait=False, cancel_futures=True)
