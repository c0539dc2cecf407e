"""`make serve`: the ASGI application under uvicorn, one process per core, for production.

HOST, PORT and WEB_CONCURRENCY come from the environment; nothing else is started and no
migration is run. The event loop is uvloop and the HTTP parser httptools.
"""

from __future__ import annotations

import os
import sys

import redis
import uvicorn

from core.checks import redis_info
from core.redis_policy import eviction_problem

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
    """Serve until stopped; refuse to start on a Redis that may evict the gateway's state.

    Each process checks again as it starts (the ASGI lifespan), whatever server runs it; this
    check makes the refusal the command's exit status.
    """
    problem = redis_eviction_problem(os.environ.get("REDIS_URL", ""))
    if problem:
        sys.exit(f"Portcullis does not start: {problem}")
    uvicorn.run("portal.asgi:application", **options())


def redis_eviction_problem(url: str) -> str:
    """Why the Redis at `url` could evict revocations and counters ("" when it cannot)."""
    if not url:
        return ""
    try:
        return eviction_problem(redis_info(url))
    except redis.RedisError:
        return ""  # down now: the gateway answers 503 until it is back


if __name__ == "__main__":
    main()
