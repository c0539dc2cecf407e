"""Request parsers of the management API."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper documents are refused: every later step (validation, storage, rendering) recurses.
MAX_DEPTH = 64


def nesting_depth(document: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON document, counted without recursion."""
    deepest, pending = 0, [(document, 0)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that answers 400, not 500, to documents nested absurdly deep."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from exc
        if nesting_depth(document) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        return document
