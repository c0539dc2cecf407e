"""The one error a gateway step raises; respond.py renders it."""

from __future__ import annotations

from typing import Any

from core.errors import PortcullisError
from core.shared import SHARED_CACHE_ERRORS as SHARED_CACHE_ERRORS

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
