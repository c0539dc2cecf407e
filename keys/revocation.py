"""The revocation list: jti values in the shared cache until the token's exp.

Every process sees a revocation within REVOCATION_POLL_SECONDS: it polls one shared version
number at most that often, and between polls trusts its own memory of the jtis it already
found unrevoked, so a warm request need not ask the shared cache at all. The calls that find
the poll due at the same moment (a burst) share one read of the version.
"""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache

from core import shared
from core.clock import clock
from core.single_flight import single_flight
from keys.conf import keys_settings

VERSION_KEY = "keys:revocations:version"
_MEMORY_LIMIT = 100_000


def _revoked_key(jti: str) -> str:
    return f"keys:revoked:{jti}"


class RevocationList:
    """This process's view of the shared revocation list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._polled_at = float("-inf")
        self._unrevoked: set[str] = set()

    def revoke(self, jti: str, *, exp: int) -> None:
        """Refuse the token `jti` everywhere until its expiry has passed."""
        ttl = max(1, exp - clock.now() + keys_settings.LEEWAY)
        cache.set(_revoked_key(jti), 1, timeout=ttl)
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        self._polled_at = float("-inf")

    def is_revoked(self, jti: str) -> bool:
        """Whether `jti` was revoked, as seen at most REVOCATION_POLL_SECONDS ago."""
        if self._poll_due():
            self._saw_version(cache.get(VERSION_KEY))
        if jti in self._unrevoked:
            return False
        seen_version = self._version
        return self._remember(jti, cache.get(_revoked_key(jti)) is not None, seen_version)

    async def ais_revoked(self, jti: str) -> bool:
        """`is_revoked` from async code, on the same shared entries."""
        if self._poll_due():
            await single_flight((VERSION_KEY, id(self)), self._apoll)
        if jti in self._unrevoked:
            return False
        seen_version = self._version
        revoked = await shared.get(_revoked_key(jti)) is not None
        return self._remember(jti, revoked, seen_version)

    async def _apoll(self) -> None:
        self._saw_version(await shared.get(VERSION_KEY))

    def _remember(self, jti: str, revoked: bool, seen_version: str | None) -> bool:
        if not revoked:
            with self._lock:
                # A poll in between may have learnt of a newer revocation: remember nothing then.
                if self._version != seen_version:
                    return revoked
                if len(self._unrevoked) >= _MEMORY_LIMIT:
                    self._unrevoked.clear()
                self._unrevoked.add(jti)
        return revoked

    def _poll_due(self) -> bool:
        return clock.monotonic() - self._polled_at >= keys_settings.REVOCATION_POLL_SECONDS

    def _saw_version(self, version: str | None) -> None:
        with self._lock:
            if version != self._version:
                self._unrevoked.clear()
                self._version = version
            self._polled_at = clock.monotonic()


revocations = RevocationList()
