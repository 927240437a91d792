"""Run the local Polygon server: in the foreground, in a background thread, or as a process."""

from __future__ import annotations

import asyncio
import json
import logging
import selectors
import socket
import struct
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

import uvicorn
from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from standins import serving
from standins.polygon.app import create_app
from standins.polygon.config import FaultConfig, SimConfig

log = logging.getLogger("standins.polygon")
_LISTENING = "polygon-sim listening on "
_Connections = dict[tuple[str, int], asyncio.Transport]


class RunningSim:
    """A server that is up: its URL, a key it accepts, and its control endpoints."""

    def __init__(self, base_url: str, config: SimConfig, stop: Callable[[], None]) -> None:
        self.base_url = base_url
        self.config = config
        self.key = config.keys[0]
        self._stop = stop

    def stop(self) -> None:
        """Shut the server down (idempotent)."""
        stop, self._stop = self._stop, lambda: None
        stop()

    def stats(self) -> dict[str, Any]:
        """``GET /_control/stats`` (needs ``config.control``)."""
        return self._control("GET", "/_control/stats")

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault configuration and restart its schedule (needs ``config.control``)."""
        self._control("POST", "/_control/faults", faults.to_mapping())

    def reset(self) -> None:
        """Zero the counters, refill the rate buckets, restart the fault schedule."""
        self._control("POST", "/_control/reset", {})

    def _control(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def __enter__(self) -> RunningSim:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(config: SimConfig, announce: IO[str] = sys.stdout) -> int:
    """Serve in the foreground until interrupted; the first line on ``announce`` is the URL."""
    sock = serving.bind(config.host, config.port)
    server = _server(config)
    print(f"{_LISTENING}{serving.url(sock)}", file=announce, flush=True)
    log.info(
        "polygon-sim on %s: %d key(s), rate limit %s, %d tickers, faults %s, control %s",
        serving.url(sock),
        len(config.keys),
        config.rate_limit or "off",
        config.universe_size,
        config.faults if config.faults.active else "off",
        "on" if config.control else "off",
    )
    server.run(sockets=[sock])
    return 0


def start_in_thread(config: SimConfig, timeout: float = 10.0) -> RunningSim:
    """Start a server on a background thread of this process (``port=0``: any free port)."""
    sock = serving.bind(config.host, config.port)
    stop = serving.start(_server(config), sock, "polygon-sim", timeout)
    return RunningSim(serving.url(sock), config, stop)


def start_process(
    config: SimConfig, timeout: float = 30.0, stderr: IO[bytes] | int | None = None
) -> RunningSim:
    """Start a server as a child process (``python -m standins.polygon``), e.g. for benchmarks
    where it should not share this process's interpreter lock."""
    command = [sys.executable, "-m", "standins.polygon", json.dumps(config.to_mapping())]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if selector.select(timeout):
            line = process.stdout.readline()
    if not line.startswith(_LISTENING.encode()):
        process.kill()
        process.wait()
        raise RuntimeError(
            f"polygon-sim did not start within {timeout} s (exit status {process.returncode}, "
            f"first line {line!r})"
        )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()

    return RunningSim(line.decode()[len(_LISTENING) :].strip(), config, stop)


def _server(config: SimConfig) -> uvicorn.Server:
    connections: _Connections = {}
    app = create_app(config, abort=_aborter(connections))
    return uvicorn.Server(
        uvicorn.Config(
            app,
            http=_tracking_protocol(connections),
            lifespan="off",
            access_log=False,
            log_level=config.log_level,
            # Keep the logging the caller configured (stderr), not uvicorn's own set-up.
            log_config=None,
            timeout_graceful_shutdown=5,
            # Ingest clients pause between pages (retries, backoff); uvicorn's 5 s default would
            # close their idle connections and add failures no test asked for.
            timeout_keep_alive=75,
            ws="none",
        )
    )


def _tracking_protocol(connections: _Connections) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, remembering each connection's transport by its client address.

    ASGI has no way to drop a connection without answering; this lets the app find the
    transport of a request (by ``scope["client"]``) and reset it.
    """

    class TrackingProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client is not None:
                connections[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None and connections.get(self.client) is self.transport:
                del connections[self.client]
            super().connection_lost(exc)

    return TrackingProtocol


def _aborter(connections: _Connections) -> Callable[[Scope], bool]:
    def abort(scope: Scope) -> bool:
        client = scope.get("client")
        transport = connections.get((client[0], client[1])) if client else None
        if transport is None or transport.is_closing():
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                # Linger 0: close() sends RST instead of FIN, as a dropped connection does.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                log.debug("could not set SO_LINGER; the connection closes with FIN")
        transport.abort()
        return True

    return abort
