"""One exception family for the whole project; each kind knows its HTTP status."""

from __future__ import annotations

from typing import Any


class PortcullisError(Exception):
    """A failure a client can be told about, rendered as problem+json (RFC 9457)."""

    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(
        self,
        detail: str = "",
        *,
        title: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.detail = detail
        if title is not None:
            self.title = title
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body of this error."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        body.update(self.extra)
        return body


class InvalidInput(PortcullisError):
    status = 400
    title = "Invalid input"


class NotFound(PortcullisError):
    status = 404
    title = "Not found"


class Forbidden(PortcullisError):
    status = 403
    title = "Forbidden"


class Conflict(PortcullisError):
    status = 409
    title = "Conflict"


class ServiceUnavailable(PortcullisError):
    status = 503
    title = "Service unavailable"
