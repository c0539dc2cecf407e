"""The key-set version: a token in the shared cache that every change of the token keys replaces.

Processes poll it (at most every KEYSET_POLL_SECONDS) and reload their key ring when it moved;
the services that change keys replace it. Neither side needs the other, only this token.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

from core.clock import clock
from keys.conf import keys_settings

VERSION_KEY = "keys:keyset:version"


class _Seen:
    """This process's last reading of the version, and when it was taken."""

    version: str = ""
    checked: float = float("-inf")


_seen = _Seen()


def keyset_version(*, fresh: bool = False) -> str:
    """The current version, re-read from the shared cache at most every KEYSET_POLL_SECONDS (or
    now when `fresh`); a cache that lost it gets a new one, so every process reloads."""
    now = clock.monotonic()
    if not fresh and now - _seen.checked < keys_settings.KEYSET_POLL_SECONDS:
        return _seen.version
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY, version)
    _seen.version, _seen.checked = version, now
    return version


def bump_version() -> None:
    """Tell every process to reload its keys, now and again once the transaction commits.

    The second bump matters: a process reloading between the two read the uncommitted past.
    """
    _set_new_version()
    transaction.on_commit(_set_new_version)


def forget_version() -> None:
    """Make this process read the version again on its next use."""
    _seen.checked = float("-inf")


def _set_new_version() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    forget_version()
