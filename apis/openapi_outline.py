"""A readable outline of an OpenAPI document: what the API page shows without a script."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    """One method on one path, with its summary."""

    method: str
    path: str
    summary: str


def operations(document: Any) -> list[Operation]:
    """The operations of an OpenAPI document, in document order; [] when it has none."""
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return []
    found = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                summary = operation.get("summary") or operation.get("description") or ""
                found.append(Operation(method.upper(), str(path), str(summary)))
    return found
