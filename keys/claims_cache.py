"""Verified claims by a digest of their token: a token seen before skips the cryptography."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ClaimsCache(Generic[Value]):
    """A bounded, thread-safe LRU map from token digest to its verified claims.

    Process-local on purpose: claims never change, and what may change (revocation, expiry)
    is checked on every use against the shared cache and the clock.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, Value] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(token: str) -> bytes:
        """The cache key of a token."""
        return hashlib.sha256(token.encode()).digest()

    def get(self, digest: bytes) -> Value | None:
        """The claims cached under `digest`, marked as recently used."""
        with self._lock:
            value = self._items.get(digest)
            if value is not None:
                self._items.move_to_end(digest)
            return value

    def put(self, digest: bytes, value: Value) -> None:
        """Remember `value`, dropping the least recently used entry when full."""
        with self._lock:
            self._items[digest] = value
            self._items.move_to_end(digest)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
