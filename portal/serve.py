"""`make serve`: the ASGI application under uvicorn, one process per core, for production.

HOST, PORT and WEB_CONCURRENCY come from the environment; nothing else is started and no
migration is run. The event loop is uvloop and the HTTP parser httptools.
"""

from __future__ import annotations

import os

import uvicorn

# A keep-alive connection idle this long is closed, so idle clients cannot pile up forever.
KEEP_ALIVE_SECONDS = 5
# Seconds the processes get to finish their calls on SIGTERM before they are stopped.
GRACEFUL_SECONDS = 30


def options(environ: dict[str, str] | os._Environ = os.environ) -> dict:
    """uvicorn's settings from the environment."""
    return {
        "host": environ.get("HOST", "127.0.0.1"),
        "port": int(environ.get("PORT", "8000")),
        "workers": int(environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1),
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": environ.get("LOG_LEVEL", "INFO").lower(),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        # Behind a proxy, X-Forwarded-* are the gateway's to judge (PORTCULLIS_TRUSTED_PROXIES).
        "proxy_headers": False,
        "server_header": False,
    }


def main() -> None:
    """Serve until stopped."""
    uvicorn.run("portal.asgi:application", **options())


if __name__ == "__main__":
    main()
