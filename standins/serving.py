"""A uvicorn server on a socket bound beforehand, run from a background thread of this process.

Binding first makes port 0 work and tells the URL before serving; listening first lets a client
told the URL early wait in the backlog instead of being refused.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn


def bind(host: str = "127.0.0.1", port: int = 0, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def url(sock: socket.socket) -> str:
    """The http:// URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start(
    server: uvicorn.Server, sock: socket.socket, name: str, timeout: float = 10.0
) -> Callable[[], None]:
    """Run ``server`` on ``sock`` in a daemon thread; back once it serves, with its stop function.

    Raises RuntimeError, naming the server, when it has not started within ``timeout`` seconds.
    """
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"{name} did not start within {timeout} s (see its log)")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return stop
