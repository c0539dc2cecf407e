"""WSGI entry point: the control plane as Django serves it; each data-plane call on a loop.

Django serves an async view under WSGI on an event loop made for that one call and closed
after it (asgiref's async_to_sync), then reads a streamed answer on a second loop. The data
plane's pools belong to the loop that opened them: served that way, a gateway or MCP call
left its upstream and Redis connections open until the process exited, read its answer
through a loop that had stopped reading the socket, and was never accounted (Django closes a
streamed body through a sync `close` only). Here a data-plane call is answered, read whole,
closed, and its loop's pools closed, all on the loop it ran on.
"""

import os
from contextlib import aclosing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup(set_prefix=False)

from asgiref.sync import async_to_sync  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse  # noqa: E402

from apis.gateway.loop_pools import close_loop_pools  # noqa: E402
from core.streaming import StreamingHandler  # noqa: E402
from portal.planes import is_data_plane  # noqa: E402


class PlanesHandler(WSGIHandler):
    """Django's WSGI handler; the data plane's paths go to its own handler, as under ASGI."""

    def __init__(self) -> None:
        super().__init__()
        self.data_plane = StreamingHandler()

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if not is_data_plane(request.path_info):
            return super().get_response(request)
        return async_to_sync(self._answered_whole)(request)

    async def _answered_whole(self, request: HttpRequest) -> HttpResponseBase:
        try:
            response = await self.data_plane.get_response_async(request)
            if isinstance(response, StreamingHttpResponse):
                response.streaming_content = [await _read_and_closed(response)]
            return response
        finally:
            await close_loop_pools()


async def _read_and_closed(response: StreamingHttpResponse) -> bytes:
    """The streamed answer's whole body; the answer is closed after (a gateway call's end is
    what accounts it, read to its end or not)."""
    try:
        # An async generator, whose aclose the stub's AsyncIterator leaves out.
        async with aclosing(aiter(response)) as parts:  # type: ignore[type-var]
            return b"".join([part async for part in parts])
    finally:
        close = getattr(response, "aclose", None)
        if close is not None:
            await close()


application = PlanesHandler()
