"""Request parsers of the management API."""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper documents are refused: every later step (validation, storage, rendering) recurses.
MAX_DEPTH = 64
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_DEPTH} levels."
# PostgreSQL text cannot hold NUL, and no name, slug or description needs one.
HAS_NUL = "JSON parse error - strings may not contain the NUL character (\\u0000)."


def document_problem(document: Any) -> str:
    """Why a parsed JSON document is refused (too deep, a NUL in a string), or ""."""
    pending = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, str) and "\x00" in value:
            return HAS_NUL
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return ""


def strict_json(data: bytes | str) -> Any:
    """A JSON document that every later step can handle; ValueError saying why not.

    Python's json accepts NaN and Infinity (which no JSON encoder writes back), turns 1e999 into
    infinity, and recurses without bound on deep nesting: all refused here.
    """
    try:
        document = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError(TOO_DEEP) from exc
    if problem := document_problem(document):
        raise ValueError(problem)
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is out of range.")
    return number


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that answers 400, not 500, to absurd nesting and NUL characters."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(TOO_DEEP) from exc
        if problem := document_problem(document):
            raise ParseError(problem)
        return document
