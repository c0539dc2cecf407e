"""Settings of the MCP endpoint: the MCP section of PORTCULLIS."""

from core.conf import AppSettings

mcp_settings = AppSettings(
    "MCP",
    {
        # Origins (scheme://host[:port]) whose pages may call /mcp; our own is always allowed.
        "ALLOWED_ORIGINS": [],
        # Seconds a handshake-era session lives after its last request.
        "SESSION_TTL": 3600,
        # Bytes of one posted JSON-RPC message; over it: 413. A tool call's arguments become an
        # API request body, which the gateway accepts up to its own BODY_LIMIT.
        "BODY_LIMIT": 10 * 1024 * 1024,
        # Tools per tools/list page.
        "PAGE_SIZE": 100,
        # How long a client may reuse a tools/list answer (2026-07-28 ttlMs), in milliseconds.
        "LIST_TTL_MS": 60_000,
    },
)
