"""Background processes of `headwater up`: started detached, found again through pid files.

Each service has a pid file (``<var>/run/<name>.pid``) and a log (``<var>/log/<name>.log``). A
pid file alone proves nothing (the process may have died, its pid been reused, or it may be a
zombie nobody reaps), so a service counts as running only while that pid is alive and its
command line still names Headwater.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: What the command line of every process we start contains (`python -m headwater.cli …`).
MARKER = b"headwater"
LOG_LINES = 30
_POLL_SECONDS = 0.2
#: How long the rest of a process group may outlive its leader before it is killed.
_GROUP_SECONDS = 5.0


class ServiceError(Exception):
    """A service did not start or become ready; the message ends with its log's last lines."""


@dataclass(frozen=True, slots=True)
class Service:
    """One background process: its name, its command, and where its pid file and log live."""

    name: str
    command: tuple[str, ...]
    var_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.var_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.var_dir / "log" / f"{self.name}.log"


def running_pid(service: Service) -> int | None:
    """The pid of the service when it runs, else None."""
    try:
        text = service.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    return pid if _ours(pid) else None


def is_running(service: Service) -> bool:
    """Whether the service's pid file names a live Headwater process."""
    return running_pid(service) is not None


def start(service: Service, env: Mapping[str, str]) -> int:
    """Start the service detached (its own session), output to its log; returns its pid."""
    service.pid_file.parent.mkdir(parents=True, exist_ok=True)
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        # Appended, not truncated: the log of an earlier start may explain why it stopped.
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"==== {stamp} starting: {' '.join(service.command)}\n".encode())
        log.flush()
        # A session of its own: the caller's terminal signals (Ctrl-C) do not reach it, and its
        # children (the worker's JVM) share its process group, so `stop` can end them together.
        process = subprocess.Popen(
            service.command,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    temporary = service.pid_file.with_suffix(".pid.tmp")
    temporary.write_text(f"{process.pid}\n")
    # Renamed into place: a concurrent reader sees the old pid file or the new one, never half.
    temporary.replace(service.pid_file)
    return process.pid


def stop(service: Service, grace_seconds: float) -> int | None:
    """TERM the service, KILL its process group after ``grace_seconds``; the pid it had."""
    pid = running_pid(service)
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait(lambda: not _ours(pid), grace_seconds):
        _kill_group(pid)
        _wait(lambda: not _alive(pid), _GROUP_SECONDS)
    # What the leader started (the worker's JVM) normally ends with it; leftovers do not stay.
    if not _wait(lambda: not _group(pid), _GROUP_SECONDS):
        _kill_group(pid)
    service.pid_file.unlink(missing_ok=True)
    return pid


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a socket listening on TCP ``port``."""
    # A server of someone else's on the same port would answer the readiness probe too; the
    # socket's inode ties the port to our process.
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


def wait_until(service: Service, ready: Callable[[], bool], timeout: float) -> None:
    """Return once ``ready()`` is true; ServiceError if the service exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(service):
            raise ServiceError(f"{service.name} exited while starting{_tail(service)}")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"{service.name} was not ready after {timeout:.0f} s{_tail(service)}"
            )
        time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def locked(var_dir: Path) -> Iterator[None]:
    """Hold the lock that keeps two `headwater up`/`down` from starting or stopping at once."""
    path = var_dir / "run" / "services.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log_tail(service: Service, lines: int = LOG_LINES) -> str:
    """The last ``lines`` lines of the service's log ("" when it has none)."""
    try:
        text = service.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _tail(service: Service) -> str:
    tail = log_tail(service)
    if not tail:
        return f" (its log {service.log_file} is empty)"
    return f"; the last lines of {service.log_file}:\n{tail}"


def _wait(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _stat(pid: int) -> Sequence[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    return text[text.rfind(")") + 2 :].split()


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (its parent may never reap it)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _ours(pid: int) -> bool:
    """Whether ``pid`` is alive and still a Headwater process (not a reused pid)."""
    if not _alive(pid):
        return False
    try:
        return MARKER in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def _group(pgid: int) -> list[int]:
    """The live processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            # Fields after the name: state, ppid, pgrp, …
            if fields is not None and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
                members.append(int(entry.name))
    return members


def _listening_inodes(port: int) -> set[str]:
    """``socket:[inode]`` of every TCP socket listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            # local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; field 9 is the inode.
            fields = row.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                found.add(f"socket:[{fields[9]}]")
    return found


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
