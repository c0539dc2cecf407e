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
from contextlib import aclosing
from typing import Any

from django.core.handlers.asgi import ASGIHandler, ASGIRequest, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
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
    """One request's answer: the response, once the view gave it, and whether it all went out."""

    def __init__(self, client: ClientRequest) -> None:
        self.client = client
        self.response: HttpResponseBase | None = None
        self.complete = False

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
        answering = asyncio.current_task()
        if type(answering) is not asyncio.Task:
            # The answer must be a task the client's leaving can cancel. A server running the
            # application in no task, or in a task of its own, gets an asyncio task for it:
            # granian's Rust tasks (`--task-impl=rust`) subclass asyncio.Task, but their
            # cancel() does nothing and returns False.
            await asyncio.ensure_future(self(scope, receive, send))
            return
        # A context-local read or write costs more than resolving the URL. Each call runs in a
        # copy of the server's context, where no prefix is set (portal.asgi sets Django up
        # without one), so the default "/" is in use: only another prefix needs setting. No
        # middleware runs here to choose another URL configuration, so ROOT_URLCONF, the
        # default, needs no setting either.
        prefix = get_script_prefix(scope)
        if prefix not in ("", "/") and prefix.removesuffix("/") + "/" != script_prefix_in_use():
            set_script_prefix(prefix)
        client = ClientRequest(receive)
        exchange = _Exchange(client)
        # The answer runs in the server's own task (a task more per call is CPU a burst of
        # calls queues for); the listener cancels it when the client goes away first.
        answered = False

        def abandon() -> None:
            # What the client asked for is abandoned, upstream included; once the answer is
            # over, its accounting is not.
            if not answered and not exchange.complete:
                answering.cancel()

        listening = asyncio.create_task(client.listen(on_gone=abandon))
        try:
            await self._answer(scope, exchange, send)
        except asyncio.CancelledError:
            if not client.gone.is_set():
                raise
            answering.uncancel()
        finally:
            answered = True
            listening.cancel()
            await exchange.close()

    async def _answer(self, scope: dict, exchange: _Exchange, send) -> None:
        request, error = self.create_request(scope, io.BytesIO())
        if error is not None:
            exchange.response = error
        else:
            assert isinstance(request, StreamingRequest)  # this handler's request_class
            request.body_chunks = exchange.client.body()
            exchange.response = await self._middleware_chain(request)
        # The answer begins: body the view did not read is dropped from now on.
        await exchange.client.abandon()
        await self.send_response(exchange.response, send)
        exchange.complete = True

    async def send_response(self, response: HttpResponseBase, send) -> None:
        """Django's own sending, but a streamed body's parts go out as they are: one message
        each, through no wrapper of Django's (its per-part generator and re-encoding cost CPU
        on every chunk of every stream)."""
        if not isinstance(response, StreamingHttpResponse):
            await super().send_response(response, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": _headers(response),
            }
        )
        # An async generator, whose aclose the stub's AsyncIterator leaves out.
        async with aclosing(aiter(response)) as parts:  # type: ignore[type-var]
            async for part in parts:
                if len(part) > self.chunk_size:
                    for chunk, _last in self.chunk_bytes(part):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                elif part:
                    await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body"})


def _headers(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
    """The response's header lines as ASGI carries them, its cookies included (as Django's
    handler sends them)."""
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [
        (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
        for cookie in response.cookies.values()
    ]
    return headers


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
