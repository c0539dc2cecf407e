"""The official MCP SDK's own server on loopback, as the upstream an `mcp` API publishes.

It has tools, a prompt and a resource; it may require a bearer credential (the SDK's token
verifier) and may expire idle sessions (the SDK's session idle timeout). Every request it
receives is recorded (its headers and JSON-RPC method), and `hold` calls wait until released,
so tests count what is in flight instead of timing it.

Beside it, a server written by hand for what the SDK's never does: an answer whose line never
ends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
import zlib

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from bench.processes import free_port
from tests.servers import LoopThreadServer

# Credential -> the client id the upstream knows it as.
CREDENTIALS = {"staff-secret": "staff", "alice-secret": "alice", "bob-secret": "bob"}


class Verifier:
    """The SDK's TokenVerifier protocol over the fixed credentials above."""

    async def verify_token(self, token: str) -> AccessToken | None:
        client = CREDENTIALS.get(token)
        return AccessToken(token=token, client_id=client, scopes=[]) if client else None


class McpUpstream:
    """An MCPServer under uvicorn in a thread; `requests` holds (method, headers) per POST."""

    def __init__(self, *, bearer: bool = False, session_idle_timeout: float | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.holding = 0
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.server = self._server(bearer)
        app = self.server.streamable_http_app(session_idle_timeout=session_idle_timeout)
        config = uvicorn.Config(
            self._recording(app), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)

    def _server(self, bearer: bool) -> MCPServer:
        auth = {}
        if bearer:
            auth = {
                "token_verifier": Verifier(),
                "auth": AuthSettings(
                    issuer_url="http://127.0.0.1:9",
                    resource_server_url=self.url,
                    validate_token_resource=False,
                ),
            }
        server = MCPServer("upstream-tools", **auth)

        @server.tool(description="Echo the text back.")
        def echo(text: str) -> str:
            return f"echo: {text}"

        @server.tool(description="Add two integers.")
        def add(a: int, b: int) -> int:
            return a + b

        @server.tool(description="Delete everything (never granted).")
        def wipe() -> str:
            return "wiped"

        @server.tool(description="Wait until the test releases the call.")
        async def hold() -> str:
            self.holding += 1
            await self._release.wait()
            return "released"

        @server.prompt(description="Greet someone by name.")
        def greet(name: str) -> str:
            return f"Say hello to {name}."

        @server.resource("notes://welcome", mime_type="text/plain", description="A note.")
        def welcome() -> str:
            return "Welcome to the upstream."

        return server

    def _recording(self, app):
        async def record(scope, receive, send):
            if scope["type"] != "http" or scope["method"] != "POST":
                if scope["type"] == "lifespan":
                    self._loop = asyncio.get_running_loop()
                    self._release = asyncio.Event()
                return await app(scope, receive, send)
            body = b""
            messages = []
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((json.loads(body or b"{}").get("method", ""), headers))

            async def replay():
                return messages.pop(0) if messages else await receive()

            return await app(scope, replay, send)

        return record

    def methods(self) -> list[str]:
        """The JSON-RPC methods received, in order."""
        return [method for method, _ in self.requests]

    def credentials(self, method: str) -> list[str]:
        """The Authorization headers of the requests of that method."""
        return [h.get("authorization", "") for m, h in self.requests if m == method]

    def live_sessions(self) -> int:
        """Sessions the SDK's session manager holds now."""
        return len(self.server.session_manager._server_instances)

    def release(self) -> None:
        """Let every held call (and those still to come) answer."""
        self._loop.call_soon_threadsafe(self._release.set)

    def __enter__(self) -> McpUpstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.uvicorn.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the MCP upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving: the upstream is down from now on."""
        if not self.thread.is_alive():
            return
        self.release()
        self.uvicorn.should_exit = True
        self.thread.join(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()


FLOOD_TOOL = {
    "name": "flood",
    "description": "Answer at length.",
    "inputSchema": {"type": "object"},
}
# The answers of a 2026-07-28 server to what the gateway asks before a call.
FLOOD_RESULTS = {
    "server/discover": {
        "supportedVersions": ["2026-07-28"],
        "capabilities": {"tools": {}},
        "serverInfo": {"name": "flood", "version": "1"},
    },
    "tools/list": {"tools": [FLOOD_TOOL]},
}


class EndlessLineUpstream(LoopThreadServer):
    """A 2026-07-28 MCP server of one tool, `flood`, whose call answers with an event stream
    whose data line never ends: text after text, 16 KiB a write (random, so that compressed it
    is no smaller), until the gateway hangs up, or until `most` bytes when it never does (then
    the answer's JSON, its line, event and stream end).

    `encoding` "gzip" compresses the stream (Content-Encoding) though nobody asked for it.
    `sent` counts the bytes of the line written, before compression; `cut_short` says the
    gateway hung up first.
    """

    def __init__(self, *, most: int, encoding: str = "") -> None:
        self.most = most
        self.encoding = encoding
        self.sent = 0
        self.cut_short = False
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        super().__init__()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.partition(b":")[2])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            message = json.loads(await reader.readexactly(length))
            if message["method"] == "tools/call":
                await self._flood(reader, writer, message["id"])
            else:
                self._answer(writer, message)
                await writer.drain()
        except ConnectionError:
            self.cut_short = True
        finally:
            writer.close()

    def _answer(self, writer: asyncio.StreamWriter, message: dict) -> None:
        result = FLOOD_RESULTS.get(message["method"])
        answer = {"jsonrpc": "2.0", "id": message["id"]}
        if result is None:
            answer["error"] = {"code": -32601, "message": "Method not found"}
        else:
            answer["result"] = result
        body = json.dumps(answer).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    async def _flood(self, reader, writer: asyncio.StreamWriter, request_id: int) -> None:
        # The gateway sends nothing after its request: EOF here is the gateway hanging up.
        gone = asyncio.ensure_future(reader.read(1))
        compressor = zlib.compressobj(wbits=31) if self.encoding else None
        encoding = b"Content-Encoding: %s\r\n" % self.encoding.encode() if self.encoding else b""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n%s\r\n" % encoding
        )
        opening = {"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text"}]}}
        start = json.dumps(opening).encode().removesuffix(b"}]}}") + b', "text": "'
        try:
            _chunk(writer, compressor, b"data: " + start)
            while self.sent < self.most:
                if gone.done():
                    self.cut_short = True
                    return
                piece = base64.b64encode(os.urandom(12288))
                _chunk(writer, compressor, piece)
                self.sent += len(piece)
                await writer.drain()
            _chunk(writer, compressor, b'"}]}}\n\n')
            if compressor is not None:
                _chunk(writer, None, compressor.flush())
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            gone.cancel()


def _chunk(writer: asyncio.StreamWriter, compressor, data: bytes) -> None:
    """`data` as one chunk of a chunked body, compressed (and flushed) by the compressor if any."""
    if compressor is not None:
        data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
