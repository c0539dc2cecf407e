"""The processes a benchmark drives: nginx (upstream and reverse proxy) and ASGI servers."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from portal.serve import KEEP_ALIVE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "bench" / "results" / "logs"
# Connections a server accepts before it answers; above the memory figure's 2,000 streams.
BACKLOG = 4096
BODY = b'{"city":"Lisbon","temperature":21.5,"unit":"C","source":"bench"}\n'

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{origin_port};
        root {prefix}/www;
        default_type application/json;
    }}
    server {{
        listen 127.0.0.1:{proxy_port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 30.0, *, alive: subprocess.Popen | None = None
) -> None:
    """Block until something accepts connections on the port, while `alive` (if given) runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive and alive.poll() is not None:
            raise ChildProcessError(f"exited {alive.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def ensure_tools() -> None:
    """nginx and wrk come from Debian packages; install them when missing (needs root)."""
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool)]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get (Debian packages nginx, wrk)...")
    # A fresh machine's package lists may be empty or stale.
    subprocess.run(["apt-get", "update", "-q"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx", "wrk"], check=True)


def raise_open_files_limit() -> None:
    """Let this process and its children open as many files as allowed: 2,000 idle streams
    take a socket each in the load generator, two in the gateway and one in the upstream."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Process:
    """A child process, its output in bench/results/logs/<name>.log, stopped when the `with`
    block ends (TERM, then KILL to its whole process group: servers fork workers)."""

    def __init__(
        self,
        command: list[str],
        *,
        name: str,
        port: int,
        env: dict[str, str] | None = None,
        unset: tuple[str, ...] = (),
    ):
        self.command, self.name, self.port = command, name, port
        self.env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
        self.log = LOGS / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Process:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        try:
            wait_for_port(self.port, alive=self.process)
        except (TimeoutError, ChildProcessError):
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def pid(self) -> int:
        """The process id of the command started."""
        return self.process.pid

    def failure(self) -> str:
        """The last line the process wrote, to say why it is not serving."""
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return f"{self.name} exited {self.process.poll()}: {lines[-1] if lines else '(no output)'}"


class Nginx(Process):
    """One nginx serving a static JSON file (the origin) and proxying to it (the reverse proxy)."""

    def __init__(self) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="portcullis-bench-"))
        self.prefix.chmod(0o755)  # nginx workers run as an unprivileged user
        (self.prefix / "www").mkdir(mode=0o755)
        (self.prefix / "www" / "weather.json").write_bytes(BODY)
        self.origin_port, self.proxy_port = free_port(), free_port()
        conf = NGINX_CONF.format(
            prefix=self.prefix, origin_port=self.origin_port, proxy_port=self.proxy_port
        )
        (self.prefix / "nginx.conf").write_text(conf)
        command = ["nginx", "-p", str(self.prefix), "-c", "nginx.conf", "-e", "stderr"]
        super().__init__(command, name="nginx", port=self.proxy_port)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        shutil.rmtree(self.prefix, ignore_errors=True)


def asgi_server(
    server: str, app: str, *, port: int, workers: int, env: dict[str, str], name: str
) -> Process:
    """`app` under the ASGI server named "uvicorn" or "granian": `workers` processes, uvloop."""
    return Process(ASGI_COMMANDS[server](app, port, workers), name=name, port=port, env=env)


def _uvicorn(app: str, port: int, workers: int) -> list[str]:
    return [
        _venv_bin("uvicorn"),
        app,
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={workers}",
        "--loop=uvloop",
        "--http=httptools",
        "--no-access-log",
        "--log-level=warning",
        f"--backlog={BACKLOG}",
        # As `make serve` runs it (portal.serve).
        "--no-proxy-headers",
        "--no-server-header",
        f"--timeout-keep-alive={KEEP_ALIVE_SECONDS}",
    ]


def _granian(app: str, port: int, workers: int) -> list[str]:
    return [
        _venv_bin("granian"),
        "--interface=asgi",
        app,
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={workers}",
        "--loop=uvloop",
        "--log-level=warning",
        "--no-access-log",
        # Granian serves at most backlog / workers requests at once per worker (1024 by
        # default): the 2,000 idle streams of the memory figure need more.
        f"--backlog={BACKLOG}",
    ]


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


ASGI_COMMANDS = {"uvicorn": _uvicorn, "granian": _granian}
