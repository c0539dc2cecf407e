"""Django's ASGI handler for the data plane: no middleware, no thread, the request body streamed.

Django's own handler reads the whole request body before the view runs, sends request signals
and closes each response through `sync_to_async`, and its middleware (sessions, CSRF,
messages) is sync: under ASGI every one of those runs in a thread, for every call. The
gateway's views need none of it. This handler resolves the URL, awaits the async view, streams
its response, hands the view the body as it arrives (`request.body_chunks`) and cancels the
view when the client goes away before the answer is complete.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from django.core.handlers.asgi import ASGIHandler, ASGIRequest, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.urls import get_script_prefix as script_prefix_in_use
from django.urls import set_script_prefix

Message = Mapping[str, Any]


class ClientRequest:
    """The receive side of one exchange: the body as it arrives, and the client leaving.

    One task owns `receive`: it hands the view one body chunk at a time (a slow upstream slows
    the upload down) and, once the body is in, waits for the disconnect.
    """

    def __init__(self, receive: Callable[[], Awaitable[Message]]) -> None:
        self._receive = receive
        self._changed = asyncio.Condition()
        self._chunk: bytes | None = None
        self._complete = False
        self._abandoned = False
        self.gone = asyncio.Event()

    async def listen(self, on_gone: Callable[[], None]) -> None:
        """Read the connection until the client goes; then call `on_gone`."""
        while True:
            message = await self._receive()
            async with self._changed:
                if message["type"] == "http.disconnect":
                    self.gone.set()
                    self._changed.notify_all()
                    on_gone()
                    return
                if self._abandoned:
                    continue
                self._chunk = message.get("body") or None
                self._complete = not message.get("more_body", False)
                self._changed.notify_all()
                await self._changed.wait_for(lambda: self._chunk is None or self._abandoned)

    async def body(self) -> AsyncIterator[bytes]:
        """The body's chunks, as they arrive; it ends early when the client goes."""
        while True:
            async with self._changed:
                await self._changed.wait_for(self._chunk_or_end)
                chunk, self._chunk = self._chunk, None
                self._changed.notify_all()
            if chunk is None:
                return
            yield chunk

    def _chunk_or_end(self) -> bool:
        if self._chunk is not None:
            return True
        return self._complete or self._abandoned or self.gone.is_set()

    async def abandon(self) -> None:
        """The answer has begun: body the view did not read is dropped from now on."""
        async with self._changed:
            self._abandoned = True
            self._chunk = None
            self._changed.notify_all()


class _Exchange:
    """One request's answer on its way out, and whether it is complete."""

    def __init__(self, send: Callable[[Message], Awaitable[None]], client: ClientRequest) -> None:
        self._send = send
        self.client = client
        self.response: HttpResponseBase | None = None
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self.client.abandon()
        await self._send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True

    async def close(self) -> None:
        """Let the response release what it holds (a gateway answer accounts its call)."""
        close = getattr(self.response, "aclose", None)
        if close is not None:
            await close()


class StreamingRequest(ASGIRequest):
    """A request whose body the view reads as it arrives, from `body_chunks`."""

    body_chunks: AsyncIterator[bytes] | None = None


class StreamingHandler(ASGIHandler):
    """An ASGI application serving Django's async views, and nothing sync, on the event loop."""

    request_class = StreamingRequest
    # BaseHandler's own attributes, which the stubs leave out.
    _view_middleware: list[Callable[..., Any]]
    _template_response_middleware: list[Callable[..., Any]]
    _exception_middleware: list[Callable[..., Any]]
    _middleware_chain: Callable[[HttpRequest], Awaitable[HttpResponseBase]]
    _get_response_async: Callable[[HttpRequest], Awaitable[HttpResponseBase]]

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        # The stub types the wrapper as maybe sync; of a coroutine function it is one too.
        self._middleware_chain = convert_exception_to_response(self._get_response_async)  # type: ignore[assignment]

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"This handler serves HTTP only, not {scope['type']}.")
        # A context-local write costs more than resolving the URL: the prefix is set only when
        # it is not the one in use. No middleware runs here to choose another URL configuration,
        # so ROOT_URLCONF, the default, needs no setting either.
        prefix = get_script_prefix(scope)
        if prefix.removesuffix("/") + "/" != script_prefix_in_use():
            set_script_prefix(prefix)
        client = ClientRequest(receive)
        exchange = _Exchange(send, client)
        answering = asyncio.create_task(self._answer(scope, exchange))

        def abandon() -> None:
            # The client went away first: what it asked for is abandoned, upstream included.
            if not answering.done() and not exchange.complete:
                answering.cancel()

        listening = asyncio.create_task(client.listen(on_gone=abandon))
        try:
            await answering
        except asyncio.CancelledError:
            if not client.gone.is_set():
                raise
        finally:
            listening.cancel()
            await exchange.close()

    async def _answer(self, scope: dict, exchange: _Exchange) -> None:
        request, error = self.create_request(scope, io.BytesIO())
        if error is not None:
            await self.send_response(error, exchange.send)
            return
        assert isinstance(request, StreamingRequest)  # this handler's request_class
        request.body_chunks = exchange.client.body()
        exchange.response = await self._middleware_chain(request)
        await self.send_response(exchange.response, exchange.send)


async def request_body(request: HttpRequest, *, limit: int) -> bytes | None:
    """The whole body of a request, or None when it is longer than `limit` bytes.

    Under this handler it is read as it arrives; under Django's own handlers it has been read.
    """
    chunks = getattr(request, "body_chunks", None)
    if chunks is None:
        body = request.body
        return body if len(body) <= limit else None
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)
