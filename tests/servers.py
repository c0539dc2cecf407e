"""Real servers for tests: loopback upstreams, gateway processes as `make serve` runs them, a Redis.

Everything binds 127.0.0.1 on a free port; `with` blocks stop what they started.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn
from asgiref.sync import SyncToAsync
from django.db import connection, connections
from django.test.utils import modify_settings

from bench.processes import ASGI_COMMANDS, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
MEGABYTE = 1024 * 1024


class UpstreamHandler(BaseHTTPRequestHandler):
    """An upstream that tells what it received; routes are found anywhere in the path.

    /bytes/<n> streams n bytes; /slow/<s> answers after s seconds; /reset drops the connection;
    /status/<code> answers that status; /headers?Name=value answers with those headers;
    /cookies/<n> sets n cookies, one Set-Cookie line each;
    anything else echoes method, path, headers and a digest of the body as JSON.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    ROUTES = ("bytes", "slow", "reset", "status", "headers", "cookies")

    def handle_any(self) -> None:
        self.server.hits[self.path] += 1
        self._read_body()
        parts = [*urlsplit(self.path).path.strip("/").split("/"), ""]
        route = next((i for i, part in enumerate(parts) if part in self.ROUTES), None)
        if route is None:
            self._echo()
        else:
            getattr(self, f"_{parts[route]}")(parts[route + 1])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def _read_body(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._read_chunked_body()
            return
        length = int(self.headers.get("Content-Length") or 0)
        digest, size = hashlib.sha256(), 0
        while size < length:
            chunk = self.rfile.read(min(MEGABYTE, length - size))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
        self.body_info = (size, digest.hexdigest())

    def _read_chunked_body(self) -> None:
        digest, size = hashlib.sha256(), 0
        while length := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunk = self.rfile.read(length)
            digest.update(chunk)
            size += len(chunk)
            self.rfile.readline()  # the CRLF closing the chunk
        while self.rfile.readline().strip():  # trailer fields, up to the empty line
            pass
        self.body_info = (size, digest.hexdigest())

    def _echo(self) -> None:
        size, digest = self.body_info
        self._json(
            200,
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body_size": size,
                "body_sha256": digest,
            },
        )

    def _bytes(self, count: str) -> None:
        remaining = int(count)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(remaining))
        self.end_headers()
        block = b"x" * MEGABYTE
        while remaining and self.command != "HEAD":
            piece = block[: min(MEGABYTE, remaining)]
            self.wfile.write(piece)
            remaining -= len(piece)

    def _slow(self, seconds: str) -> None:
        time.sleep(float(seconds))
        self._echo()

    def _reset(self, _arg: str) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.close_connection = True
        self.connection.close()

    def _status(self, code: str) -> None:
        self._json(int(code), {"status": int(code)}, [("X-Upstream", "yes")])

    def _headers(self, _arg: str) -> None:
        query = urlsplit(self.path).query
        pairs = [part.split("=", 1) for part in query.split("&") if "=" in part]
        self._json(200, {"hits": self.server.hits[self.path]}, pairs)

    def _cookies(self, count: str) -> None:
        expires = "Expires=Wed, 21 Oct 2037 07:28:00 GMT"
        cookies = [("Set-Cookie", f"c{i}=v{i}; {expires}; Path=/") for i in range(int(count))]
        self._json(200, {"cookies": int(count)}, cookies)

    def _json(self, status: int, payload: dict, headers: Iterable[Sequence[str]] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        return


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts, resets) are part of the tests, not errors."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        return


class Upstream:
    """A threaded loopback HTTP upstream; `url` is its base, `hits` counts requests per path.

    Given the `port` of one that was stopped, it comes back at the same address.
    """

    def __init__(self, port: int = 0) -> None:
        self.server = QuietServer(("127.0.0.1", port), UpstreamHandler)
        self.server.hits = Counter()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def hits(self) -> Counter:
        return self.server.hits

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class DocumentHandler(BaseHTTPRequestHandler):
    """Answers every GET with the server's one document."""

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        body = self.server.document
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DocumentServer(Upstream):
    """A loopback server of one document (an OpenAPI file to fetch); `hits` counts the GETs."""

    def __init__(self, document: bytes) -> None:
        super().__init__()
        self.server.RequestHandlerClass = DocumentHandler
        self.server.document = document


def database_url() -> str:
    """The URL of the database the running tests use (the test database, once created)."""
    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


class GatewayServer:
    """The project under its ASGI server (`make serve`) in its own processes, on the tests' DB.

    `granian` names granian's task implementation ("asyncio" or "rust") to serve the project
    under granian instead, started as the benchmark starts it.
    """

    def __init__(self, *, env: dict[str, str], workers: int = 1, granian: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.workers = workers
        self.command = [sys.executable, "-m", "portal.serve"]
        if granian:
            asgi = ASGI_COMMANDS["granian"]("portal.asgi:application", self.port, workers)
            self.command = [*asgi, f"--task-impl={granian}"]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> GatewayServer:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env)
        try:
            wait_for_port(self.port)
            self._wait_ready()
        except BaseException:
            # A server that never became ready must not outlive the test that started it.
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("gateway did not become healthy")

    def worker_pids(self) -> list[int]:
        """The processes serving calls: the server itself, or its workers when it has several."""
        if self.workers == 1:
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def __exit__(self, *exc: object) -> None:
        stop(self.process)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, as a process manager stops a server; SIGKILL if it is not gone in `timeout` s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


class RedisServer:
    """A private redis-server on a free port, which a test may stop, kill and start again.

    `options` are redis-server's own (`--maxmemory 10mb`, `--appendonly yes`); its files, if it
    keeps any, live in a directory of its own that outlives a restart.
    """

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = list(options)
        self.dir = tempfile.TemporaryDirectory(prefix="redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", self.dir.name, *self.options]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        """SIGKILL: a crash, not a shutdown (nothing is written on the way out)."""
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()
        self.dir.cleanup()


class AsgiLiveServer:
    """The ASGI application under uvicorn in a thread of the test process, on a free port.

    It shares the test's settings and database (committed data only: use it with
    transactional_db); the ORM thread its cold lookups use is closed when it stops.
    """

    def __init__(self) -> None:
        from portal.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        # pytest-django's autouse live-server helper enables these around every test using one.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"})

    def __enter__(self) -> AsgiLiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise TimeoutError("the ASGI live server did not start")
            time.sleep(0.01)
        return self

    def settle(self, timeout: float = 5) -> None:
        """Wait until no call is being served: an answer sent is accounted a moment later.

        On the embedded default a test that writes while the server records a usage event
        meets SQLite's shared-cache table lock (`database table is locked`) at once.
        """
        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        # The data plane's ORM thread keeps its connection: close it, or the test database
        # could not be flushed or dropped.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


class LoopThreadServer:
    """An asyncio server on an event loop of its own, in a thread: for clients by the hundred.

    Subclasses start their server in `_start` and set `self.server`; every connection task is
    cancelled when the `with` block ends.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        self.server.close()
        serving = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        await self.server.wait_closed()


class CountingUpstream(LoopThreadServer):
    """An asyncio upstream that counts the requests it holds at once and sees clients leave.

    Each request is held until `hold_until` requests are in flight together (or `hold_seconds`
    after the first arrived), then answered; `peak` is the most it ever held at once.
    `/stream` answers with one chunk every 0.1 s for `stream_seconds`; `closed_at` records
    (monotonic) when a client dropped a held request or a stream before its end, and
    `idle_closed_at` when it closed a kept-alive connection between two requests.
    """

    def __init__(self, *, hold_until: int = 1, hold_seconds: float = 10.0) -> None:
        self.hold_until = hold_until
        self.hold_seconds = hold_seconds
        self.stream_seconds = 30.0
        self.in_flight = 0
        self.peak = 0
        self.closed_at: list[float] = []
        self.idle_closed_at: list[float] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._enough: asyncio.Event | None = None
        self._deadline = 0.0
        super().__init__()

    async def _start(self) -> None:
        self._enough = asyncio.Event()
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                await self._answer(head, reader, writer)
        except asyncio.IncompleteReadError as ended:
            if not ended.partial:
                self.idle_closed_at.append(time.monotonic())
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, head: bytes, reader, writer) -> None:
        lines = head.decode("latin1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        await reader.readexactly(int(headers.get("content-length", "0")))
        if lines[0].split(" ")[1].rstrip("/").endswith("/stream"):
            await self._stream(reader, writer)
            raise ConnectionError("stream over")
        # One deadline for all, from the first arrival: calls that come one after another (the
        # failure this detects) are not each held for the whole time.
        self._deadline = self._deadline or time.monotonic() + self.hold_seconds
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight >= self.hold_until:
            self._enough.set()
        try:
            hung_up = await self._hold(reader)
        finally:
            self.in_flight -= 1
        if hung_up:
            self.closed_at.append(time.monotonic())
            raise ConnectionError("the client left before its answer")
        body = json.dumps({"held_together": self.peak}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async def _hold(self, reader: asyncio.StreamReader) -> bool:
        """Hold the request until enough are in flight or the deadline; whether the client left.

        A client sends nothing more while it waits for its answer: EOF is its hanging up.
        """
        enough = asyncio.ensure_future(self._enough.wait())
        hung_up = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait(
                {enough, hung_up},
                timeout=max(self._deadline - time.monotonic(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if enough.done() or not hung_up.done():
                return False
            return hung_up.exception() is not None or hung_up.result() == b""
        finally:
            enough.cancel()
            hung_up.cancel()
            # The reader serves the connection's next request only once this read is over.
            await asyncio.gather(enough, hung_up, return_exceptions=True)

    async def _stream(self, reader, writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
        writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
        hung_up = asyncio.ensure_future(reader.read(1))  # b"" once the client closes
        deadline = time.monotonic() + self.stream_seconds
        try:
            while time.monotonic() < deadline and not hung_up.done():
                writer.write(b"c\r\ndata: tick\n\n\r\n")  # one chunk of 12 bytes
                await writer.drain()
                await asyncio.wait({hung_up}, timeout=0.1)
            if hung_up.done():
                self.closed_at.append(time.monotonic())
                return
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            self.closed_at.append(time.monotonic())
            raise
        finally:
            hung_up.cancel()


class RedisClusterServers:
    """A Redis Cluster on loopback: `masters` primaries, each with one replica, on free ports.

    Each node listens on a port and talks to the others on a bus port, all chosen free, so
    that test runs side by side on one machine each start a cluster of their own (on fixed
    ports the second run's nodes would fail to bind and it would use the first run's cluster);
    each keeps its files in a directory of its own. `url` is the cluster's `redis+cluster://`
    URL.
    """

    def __init__(self, *, masters: int = 3) -> None:
        chosen: list[int] = []
        while len(chosen) < masters * 4:
            port = free_port()
            if port not in chosen:
                chosen.append(port)
        self.ports, self.bus_ports = chosen[: masters * 2], chosen[masters * 2 :]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])
        self.dir = tempfile.TemporaryDirectory(prefix="redis-cluster-")
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> RedisClusterServers:
        try:
            for port, bus in zip(self.ports, self.bus_ports, strict=True):
                self._start_node(port, bus)
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            create = ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "1"]
            subprocess.run([*create, "--cluster-yes"], check=True, stdout=subprocess.DEVNULL)
            self.wait_until_settled()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_node(self, port: int, bus: int) -> None:
        node_dir = Path(self.dir.name) / str(port)
        node_dir.mkdir()
        command = ["redis-server", "--port", str(port), "--cluster-port", str(bus)]
        command += ["--bind", "127.0.0.1", "--cluster-enabled", "yes", "--dir", str(node_dir)]
        command += ["--save", "", "--appendonly", "yes", "--cluster-node-timeout", "2000"]
        node = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self.processes.append(node)
        wait_for_port(port, alive=node)

    def cli(self, port: int, *args: str) -> str:
        """A redis-cli command on one node; its output."""
        command = ["redis-cli", "-p", str(port), *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def wait_until_settled(self, timeout: float = 30) -> None:
        """Until every node says the cluster is ok and each primary has its replica."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.cli(port, "cluster", "info") for port in self.ports]
            views = [self.cli(port, "cluster", "nodes") for port in self.ports]
            replicas = [
                sum("slave" in line.split()[2] for line in view.splitlines()) for view in views
            ]
            ok = all("cluster_state:ok" in state for state in states)
            if ok and replicas == [len(self.ports) // 2] * len(self.ports):
                return
            time.sleep(0.1)
        raise TimeoutError("the Redis Cluster did not settle")

    def master_of(self, key: str) -> int:
        """The port of the primary that serves `key`'s slot now."""
        slot = int(self.cli(self.ports[0], "cluster", "keyslot", key))
        for line in self.cli(self.ports[0], "cluster", "nodes").splitlines():
            address, flags = line.split()[1:3]
            if "master" in flags and _serves(line, slot):
                return int(address.split(":")[1].split("@")[0])
        raise LookupError(f"no primary serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        """The port of a replica of the primary on `master_port`."""
        lines = self.cli(self.ports[0], "cluster", "nodes").splitlines()
        master_id = next(line.split()[0] for line in lines if f":{master_port}@" in line)
        replica = next(line for line in lines if line.split()[3] == master_id)
        return int(replica.split()[1].split(":")[1].split("@")[0])

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        self.dir.cleanup()


def _serves(node_line: str, slot: int) -> bool:
    for part in node_line.split()[8:]:
        if part.startswith("["):
            continue  # a slot being migrated
        low, _, high = part.partition("-")
        if int(low) <= slot <= int(high or low):
            return True
    return False
