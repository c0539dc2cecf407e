"""Cheap structural checks of a compact JOSE token, run before any cryptography (RFC 8725).

A hostile token must cost little: its size, segment count and protected header are judged
here in microseconds, and only a token that names one of our keys and algorithms goes on to
the expensive layers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from keys.errors import InvalidToken

JWE_SEGMENTS = 5
JWS_SEGMENTS = 3
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
# Headers naming keys the token brings along: never fetched, never trusted (RFC 8725 §3.10).
UNTRUSTED_KEY_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})


def split(token: str, *, max_bytes: int) -> list[str]:
    """The token's segments, after its length and alphabet are checked."""
    if len(token) > max_bytes:
        raise InvalidToken(f"The token is longer than {max_bytes} bytes.")
    segments = token.split(".")
    if len(segments) not in (JWS_SEGMENTS, JWE_SEGMENTS):
        raise InvalidToken("The token is neither a compact JWE nor a compact JWS.")
    if not all(_BASE64URL.match(segment) for segment in segments):
        raise InvalidToken("The token is not base64url encoded.")
    return segments


def protected_header(segment: str, *, max_bytes: int) -> dict[str, Any]:
    """The decoded protected header, refused when large, malformed or carrying keys."""
    if len(segment) > max_bytes * 4 // 3 + 4:
        raise InvalidToken("The token header is too large.")
    try:
        header = json.loads(_b64decode(segment))
    except (ValueError, binascii.Error) as exc:
        raise InvalidToken("The token header is not valid JSON.") from exc
    if not isinstance(header, dict):
        raise InvalidToken("The token header is not a JSON object.")
    _refuse_dangerous(header)
    return header


def _refuse_dangerous(header: dict[str, Any]) -> None:
    carried = UNTRUSTED_KEY_HEADERS.intersection(header)
    if carried:
        raise InvalidToken(f"Keys carried by the token are not trusted ({', '.join(carried)}).")
    if "zip" in header:
        raise InvalidToken("Compressed tokens are not accepted.")
    if "crit" in header:
        # RFC 7515 §4.1.11: a critical extension we do not understand makes the token invalid.
        raise InvalidToken("The token names critical header extensions this server ignores.")
    if not isinstance(header.get("kid"), str) or not isinstance(header.get("alg"), str):
        raise InvalidToken("The token header must name its key (kid) and algorithm (alg).")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
