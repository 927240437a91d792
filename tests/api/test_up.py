"""`headwater up`: migrates, prints a first admin key once, serves; `headwater apikey create`."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from api_client import ROOT, free_port


def _up(database_url: str, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_API_PORT": str(port),
        "HEADWATER_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "up"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line.rstrip("\n"))
        if line.startswith("GraphQL API:"):
            return process, lines
        assert process.poll() is None, "\n".join(lines)
    raise AssertionError("headwater up printed no API address:\n" + "\n".join(lines))


def _wait_ready(port: int) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("not ready")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)
    assert process.stdout is not None
    process.stdout.close()


async def test_up_prints_the_first_admin_key_once(clean: str) -> None:
    port = free_port()
    process, lines = _up(clean, port)
    try:
        keys = [line.strip() for line in lines if line.strip().startswith("hw_")]
        assert len(keys) == 1, lines
        _wait_ready(port)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ apiKeys { name scopes } }"},
            headers={"Authorization": f"Bearer {keys[0]}"},
        ).json()
        assert answer["data"]["apiKeys"] == [{"name": "first-admin", "scopes": ["admin"]}]
    finally:
        _stop(process)
    again, lines = _up(clean, port)
    _stop(again)
    assert not [line for line in lines if line.strip().startswith("hw_")]


def test_apikey_create_prints_a_working_key(database_url: str) -> None:
    env = {**os.environ, "HEADWATER_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "apikey", "create", "--scope", "read", "--name", "nb"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = done.stdout.strip()
    assert token.startswith("hw_") and len(token.split("_", 2)[2]) >= 30
