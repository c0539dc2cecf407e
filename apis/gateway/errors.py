"""The one error a gateway step raises; respond.py renders it."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemory
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.errors import PortcullisError

QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


class GatewayError(PortcullisError):
    """A refusal or failure of the gateway, with its status and extra response headers."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        type: str = "about:blank",
        **extra: Any,
    ) -> None:
        super().__init__(detail, title=title, status=status, headers=headers, **extra)
        self.type = type


def not_found(slug: str) -> GatewayError:
    """No API at this slug that clients may call."""
    return GatewayError(404, "Unknown API", f"No API named '{slug}' is published.")


def unavailable(detail: str) -> GatewayError:
    """The shared state the gateway needs does not answer."""
    return GatewayError(503, "Service unavailable", detail, headers={"Retry-After": "1"})


# What the shared cache raises when Redis does not answer, or is full and refuses writes
# (maxmemory with noeviction, as the README asks); the pipeline turns it into 503.
SHARED_CACHE_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisOutOfMemory,
)
