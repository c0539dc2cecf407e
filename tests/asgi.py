"""A test client for the data plane: the project's real ASGI application, driven in-process.

Like Django's test client it takes `HTTP_*` keyword headers and `credentials()`, and it reads
each answer whole, in the same event loop that produced it (an upstream stream cannot cross
loops). Database work the views hand to a thread comes back to the test's own thread, so the
test's transaction is visible to them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
from asgiref.sync import async_to_sync

from apis.gateway.loop_pools import close_loop_pools
from portal.asgi import application

CLIENT_ADDRESS = ("127.0.0.1", 50000)


class Answer:
    """An answer as the client received it, read like a Django test response."""

    streaming = False

    def __init__(self, status: int, headers: httpx.Headers, content: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.headers

    def has_header(self, name: str) -> bool:
        return name in self.headers

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def items(self) -> list[tuple[str, str]]:
        return self.headers.multi_items()

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    """Requests to the ASGI application; `HTTP_X_NAME="v"` sends the header X-Name: v."""

    def __init__(self, app=application) -> None:
        self.app = app
        self.defaults: dict[str, str] = {}

    def credentials(self, **extra: str) -> None:
        """Headers sent with every request from now on (as APIClient.credentials)."""
        self.defaults = dict(extra)

    def generic(
        self,
        method: str,
        path: str,
        data: bytes | str = b"",
        content_type: str = "application/octet-stream",
        **extra: str,
    ) -> Answer:
        """One request; `data` is the body as it is sent."""
        headers = _headers({**self.defaults, **extra})
        body = data.encode() if isinstance(data, str) else data
        if body:
            headers.setdefault("content-type", content_type)
        return in_a_loop_of_its_own(self._send, method, path, headers, body)

    def get(self, path: str, data: Mapping[str, Any] | None = None, **extra: str) -> Answer:
        """GET, with `data` as the query string."""
        if data:
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(data, doseq=True)}"
        return self.generic("GET", path, **extra)

    def head(self, path: str, **extra: str) -> Answer:
        return self.generic("HEAD", path, **extra)

    def options(self, path: str, **extra: str) -> Answer:
        return self.generic("OPTIONS", path, **extra)

    def post(
        self,
        path: str,
        data: Any = b"",
        content_type: str = "application/json",
        format: str | None = None,
        **extra: str,
    ) -> Answer:
        """POST; `data` that is not bytes or text goes as JSON (so does format="json")."""
        return self.generic("POST", path, _encoded(data), content_type, **extra)

    def put(self, path: str, data: Any = b"", content_type: str = "application/json", **extra):
        return self.generic("PUT", path, _encoded(data), content_type, **extra)

    def patch(self, path: str, data: Any = b"", content_type: str = "application/json", **extra):
        return self.generic("PATCH", path, _encoded(data), content_type, **extra)

    def delete(self, path: str, **extra: str) -> Answer:
        return self.generic("DELETE", path, **extra)

    async def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        exchange = _Exchange(body)
        await self.app(_scope(method, path, headers, body), exchange.receive, exchange.send)
        return exchange.answer()


class _Exchange:
    """One request's ASGI messages: the body in one piece, then the disconnect once answered."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent_body = False
        self.answered = asyncio.Event()
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.answered.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status, self.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.answered.set()

    def answer(self) -> Answer:
        headers = [(name.decode("latin1"), value.decode("latin1")) for name, value in self.headers]
        return Answer(self.status, httpx.Headers(headers), b"".join(self.chunks))


def _scope(method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    raw_path, _, query = path.partition("?")
    headers = {"host": "testserver", **headers}
    pairs = [(name.encode("latin1"), value.encode("latin1")) for name, value in headers.items()]
    if body:
        pairs.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": pairs,
        "client": CLIENT_ADDRESS,
        "server": ("testserver", 80),
    }


def in_a_loop_of_its_own(work, *args):
    """`await work(*args)` in an event loop of its own, whose client pools close with it."""

    async def run():
        try:
            return await work(*args)
        finally:
            # The loop ends here: its pools go with it, as at the ASGI lifespan's shutdown.
            await close_loop_pools()

    return async_to_sync(run)()


def _headers(extra: Mapping[str, str]) -> dict[str, str]:
    headers = {}
    for name, value in extra.items():
        if name.startswith("HTTP_"):
            headers[name[5:].replace("_", "-").lower()] = value
        elif name == "CONTENT_TYPE":
            headers["content-type"] = value
    return headers


def _encoded(data: Any) -> bytes | str:
    return data if isinstance(data, bytes | str) else json.dumps(data)
