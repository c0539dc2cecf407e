"""The processes a benchmark drives: nginx (upstream and reverse proxy) and gunicorn apps."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
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
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx", "wrk"], check=True)


class Process:
    """A child process stopped (TERM, then KILL) when the `with` block ends."""

    def __init__(self, command: list[str], *, port: int, env: dict[str, str] | None = None):
        self.command, self.port, self.env = command, port, env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Process:
        env = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env)
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


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
        super().__init__(command, port=self.proxy_port)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        shutil.rmtree(self.prefix, ignore_errors=True)


def gunicorn(app: str, *, port: int, env: dict[str, str]) -> Process:
    """A WSGI app under gunicorn, one worker per core, threads for keep-alive connections."""
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        app,
        f"--bind=127.0.0.1:{port}",
        f"--workers={os.cpu_count() or 1}",
        "--worker-class=gthread",
        "--threads=4",
        "--log-level=warning",
    ]
    return Process(command, port=port, env=env)
