"""`make serve`: where it listens, how many processes it runs, and what it leaves alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from portal.serve import options
from tests.polling import eventually
from tests.servers import ROOT, free_port, stop

# Any 127/8 address is loopback on Linux: one that is not 127.0.0.1 shows HOST is obeyed.
HOST = "127.0.0.2"


def test_serve_listens_on_host_and_port_in_web_concurrency_processes_and_migrates_nothing(
    tmp_path,
):
    port = free_port()
    database = tmp_path / "never-migrated.sqlite3"
    env = {"HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": "2"}
    env["DATABASE_URL"] = f"sqlite:///{database}"

    with serving(env) as server:
        health = ready(f"http://{HOST}:{port}/healthz")
        # Spawned one after another: the first may answer before the last is up.
        eventually(lambda: len(workers_of(server.pid)), 2)
        workers = workers_of(server.pid)
        others = [command(pid) for pid in children(server.pid) if pid not in workers]
        started_by_workers = [pid for worker in workers for pid in children(worker)]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)

    assert health.status_code == 200
    assert len(workers) == 2
    # Beside its workers, only multiprocessing's own helper; no Celery, no demo upstream.
    assert all("multiprocessing.resource_tracker" in other for other in others), others
    assert started_by_workers == []
    assert not database.exists(), "no migration ran: the database was never even opened"


def test_serve_runs_one_process_per_core_on_loopback_port_8000_by_default():
    defaults = options({})

    assert (defaults["host"], defaults["port"]) == ("127.0.0.1", 8000)
    assert defaults["workers"] == os.cpu_count()
    assert (defaults["loop"], defaults["http"]) == ("uvloop", "httptools")


@contextmanager
def serving(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`python -m portal.serve` (what `make serve` runs) with `env` and no Redis, stopped after."""
    environ = {**os.environ, "LOG_LEVEL": "WARNING", **env}
    environ.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "portal.serve"], cwd=ROOT, env=environ)
    try:
        yield server
    finally:
        stop(server)


def ready(url: str, timeout: float = 30) -> httpx.Response:
    """The first answer of a server that is starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def workers_of(pid: int) -> list[int]:
    """The server's worker processes (multiprocessing spawns each with `spawn_main`)."""
    return [child for child in children(pid) if "spawn_main" in command(child)]


def command(pid: int) -> str:
    """A process's command line, its arguments separated by spaces."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def children(pid: int) -> list[int]:
    """The processes `pid` started and that still run."""
    listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in listed.split()]
