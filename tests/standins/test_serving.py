"""A uvicorn server on a bound socket, from a background thread: serves, stops, or says why not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from standins.serving import bind, start, url


async def _up(request: Request) -> PlainTextResponse:
    return PlainTextResponse("up")


def test_serves_once_started_and_not_after_stop() -> None:
    app = Starlette(routes=[Route("/", _up)])
    sock = bind()
    address = url(sock)
    stop = start(uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None)), sock, "t")
    assert httpx.get(address).text == "up"
    stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(address)


@asynccontextmanager
async def _refuse(app: Starlette) -> AsyncIterator[None]:
    raise RuntimeError("this app does not start")
    yield  # pragma: no cover (never reached: the startup fails)


# uvicorn ends its thread with SystemExit(3) when the startup fails: that is the failure here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_that_cannot_start_is_named() -> None:
    # The app's startup fails: uvicorn's thread ends before it ever serves.
    config = uvicorn.Config(
        Starlette(lifespan=_refuse), lifespan="on", log_level="critical", log_config=None
    )
    with pytest.raises(RuntimeError, match="the test server did not start within 5"):
        start(uvicorn.Server(config), bind(), "the test server", timeout=5)
