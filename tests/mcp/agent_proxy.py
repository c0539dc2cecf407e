"""A loopback HTTP proxy that adds an agent's bearer token, for MCP clients that cannot send one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import httpx

from tests.servers import QuietServer

DROPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in DROPPED}
        headers["Authorization"] = f"Bearer {self.server.token}"
        answer = httpx.request(
            self.command, self.server.target + self.path, headers=headers, content=body, timeout=60
        )
        self.send_response(answer.status_code)
        for name, value in answer.headers.multi_items():
            if name.lower() not in DROPPED | {"content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = relay

    def log_message(self, format: str, *args) -> None:
        return


class AgentProxy:
    """Forwards everything on 127.0.0.1:<port> to `target`, with `Authorization: Bearer <token>`."""

    def __init__(self, target: str, token: str) -> None:
        self.server = QuietServer(("127.0.0.1", 0), _Handler)
        self.server.target, self.server.token = target.rstrip("/"), token
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AgentProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
