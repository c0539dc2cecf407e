"""The request an adapter builds for its provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    """Method, URL, headers and JSON body of one call to a provider."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


def join(base_url: str, path: str) -> str:
    """The base URL and a path, with exactly one slash between them."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def error_text(data: Any) -> tuple[str, str]:
    """(message, code) out of the error bodies providers send."""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error, ""
        if isinstance(error, dict):
            message = error.get("message") or data.get("message") or data.get("detail") or ""
            code = error.get("code") or error.get("status") or error.get("type") or ""
            return str(message), str(code)
    return str(data or "")[:500], ""
