"""An httpx transport over aiohttp: httpx's API for the code, aiohttp's connection pool beneath.

httpcore's pool scans every connection and queued request each time a request starts or ends,
so its cost grows with the square of the calls in flight: 256 concurrent calls to a 1 s
upstream took 4.8 s of wall time and 2.3 s of CPU through one httpx.AsyncClient, 1.2 s and
0.07 s through one aiohttp session (both on uvloop, this project's 2-core machine). A gateway
holds thousands of calls at once, so requests go out through aiohttp's connector.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
from yarl import URL

# A proxy sends the client's headers, not aiohttp's own.
SKIPPED_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


@contextlib.contextmanager
def httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's failures as the httpx exceptions callers handle (timeout, connect, read)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc), request=request) from exc
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The upstream's body as it arrives; closed early, its connection is dropped."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors(self.request):
            async for chunk in self.response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # An answer not read to its end closes its connection instead of returning it.
        self.response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (and connection pool) per transport, opened on first use."""

    def __init__(self, *, max_connections: int | None, keepalive_seconds: float) -> None:
        self.max_connections = max_connections or 0  # aiohttp: 0 means no limit
        self.keepalive_seconds = keepalive_seconds
        self.session: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self.keepalive_seconds,
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                skip_auto_headers=SKIPPED_AUTO_HEADERS,
                auto_decompress=False,
                trust_env=False,
            )
        return self.session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = _RequestBody(request)
        content = body.content()
        headers = [
            (name.decode("latin1"), value.decode("latin1")) for name, value in request.headers.raw
        ]
        try:
            with httpx_errors(request):
                response = await self._session().request(
                    request.method,
                    URL(str(request.url), encoded=True),  # the path goes exactly as built
                    headers=headers,
                    data=content,
                    allow_redirects=False,
                    compress=None,
                    timeout=aiohttp.ClientTimeout(
                        sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                    ),
                )
        except httpx.TransportError:
            if body.failure is not None:
                # The body's own refusal (over the limit, say), not the network's.
                raise body.failure from None
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


class _RequestBody:
    """The request's body for aiohttp, remembering why a streamed one failed, if it did."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.failure: Exception | None = None

    def content(self) -> bytes | AsyncIterator[bytes] | None:
        try:
            return self.request.content or None
        except httpx.RequestNotRead:
            # Streamed: aiohttp chunks it itself, or sends the length the headers carry.
            self.request.headers.pop("transfer-encoding", None)
            return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        stream = self.request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("an async transport sends only async request bodies")
        try:
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            self.failure = exc
            raise
