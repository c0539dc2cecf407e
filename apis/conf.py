"""Settings of the catalog app: the gateway section of PORTCULLIS."""

from core.conf import AppSettings

gateway_settings = AppSettings(
    "GATEWAY",
    {
        # Request bodies over this many bytes are refused with 413 before reaching the upstream.
        "BODY_LIMIT": 10 * 1024 * 1024,
        # When the shared cache (Redis) is unreachable: False answers 503, True serves unlimited.
        "FAIL_OPEN": False,
        # Addresses or networks of reverse proxies whose X-Forwarded-For is believed.
        "TRUSTED_PROXIES": [],
        # How stale a process's view of the catalog may be, in seconds.
        "LOOKUP_REFRESH": 1.0,
        # An event (or a line) of a provider's stream over this many bytes breaks the stream off
        # there, so a stream that never ends its line holds no more. The largest legitimate
        # ones, a Responses stream's last event carrying every output item (generated images in
        # base64 among them), run to a few MiB.
        "STREAM_EVENT_LIMIT": 16 * 1024 * 1024,
        # A provider's answer that is not streamed over this many bytes is refused (502), so one
        # that never ends holds no more. The largest legitimate ones, a batch of 2048 embeddings
        # of 3072 floats as JSON, run to about 90 MiB.
        "ANSWER_LIMIT": 128 * 1024 * 1024,
        # Larger answers are passed through but not cached.
        "CACHE_MAX_BODY": 1024 * 1024,
        # Cookies of the portal (same origin as /gw): kept out of upstream calls both ways.
        "PORTAL_COOKIES": [],
        # Upstream calls one process holds open at once (streams included); over it: 503.
        "MAX_IN_FLIGHT": 4096,
        # Upstream connections per process (None: as many as calls in flight), and how long
        # an idle one is kept for the next call: less than the 5 s after which uvicorn, Node
        # and many other servers close it, so a call never goes out on a connection the
        # upstream is closing (a POST sent there fails with 502).
        "MAX_CONNECTIONS": None,
        "KEEPALIVE_SECONDS": 4.0,
    },
)

catalog_settings = AppSettings(
    "CATALOG",
    {
        # OpenAPI documents larger than this many bytes are refused (upload, fetch, import).
        "OPENAPI_MAX_BYTES": 2 * 1024 * 1024,
        # Seconds a fetch of an OpenAPI document from a URL may take, connection included.
        "OPENAPI_FETCH_TIMEOUT": 10.0,
    },
)
