"""The process's copy of the token keys, reloaded when the shared key-set version changes."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import clock
from keys.algorithms import KEY_TYPES, Key
from keys.kek import unseal
from keys.keyset import forget_version, keyset_version
from keys.models import TokenKey
from keys.services import token_keys_ensure


@dataclass(frozen=True)
class LoadedKey:
    """One usable key: parsed once per process."""

    kid: str
    use: str
    alg: str
    status: str
    key: Key
    public: dict
    retire_after: datetime | None

    def verifies_at(self, now: datetime) -> bool:
        """Whether tokens made with this key are still accepted at `now`."""
        return self.retire_after is None or now < self.retire_after


@dataclass(frozen=True)
class KeyRing:
    """The active signing and encryption keys and every key still verifying, by kid."""

    version: str
    by_kid: dict[str, LoadedKey] = field(default_factory=dict)

    def active(self, use: str) -> LoadedKey:
        """The key new tokens are made with, for `use` ("sig" or "enc")."""
        for key in self.by_kid.values():
            if key.use == use and key.status == "active":
                return key
        # Loading the ring ensures an active key of each use, so only a corrupt key set lands here.
        raise LookupError(f"No active {use!r} token key.")

    def lookup(self, kid: str, use: str) -> LoadedKey | None:
        """The key named `kid` for `use`, if it still verifies."""
        key = self.by_kid.get(kid)
        if key is None or key.use != use or not key.verifies_at(clock.utcnow()):
            return None
        return key

    def public_jwks(self) -> dict:
        """The JWKS document: public parts only, active and retiring keys."""
        now = clock.utcnow()
        return {"keys": [k.public for k in self.by_kid.values() if k.verifies_at(now)]}


_lock = threading.Lock()
_ring: KeyRing | None = None


def current(*, fresh: bool = False) -> KeyRing:
    """The key ring; reloaded from the database only when the shared key-set version moved
    (read at most every KEYSET_POLL_SECONDS, or now when `fresh`)."""
    global _ring
    version = keyset_version(fresh=fresh)
    ring = _ring
    if ring is not None and ring.version == version:
        return ring
    with _lock:
        if _ring is None or _ring.version != version:
            _ring = _load(version)
        return _ring


def find(kid: str, use: str) -> LoadedKey | None:
    """Our key `kid` for `use`; a kid not known yet makes this process look for new keys once."""
    key = current().lookup(kid, use)
    if key is None:
        # Another process may have rotated since our last poll: its new kid is legitimate.
        key = current(fresh=True).lookup(kid, use)
    return key


def forget() -> None:
    """Drop this process's copy; the next use reloads it."""
    global _ring
    _ring = None
    forget_version()


def _load(version: str) -> KeyRing:
    # Creating the first keys bumps the version: the next use loads again, under the new one.
    token_keys_ensure()
    rows = TokenKey.objects.exclude(status=TokenKey.Status.RETIRED)
    return KeyRing(version=version, by_kid={row.kid: _parse(row) for row in rows})


def _parse(row: TokenKey) -> LoadedKey:
    private = json.loads(unseal(row.private_sealed, purpose=f"token-key:{row.kid}"))
    key = KEY_TYPES[row.alg].import_key(private, {"kid": row.kid, "use": row.use, "alg": row.alg})
    return LoadedKey(
        kid=row.kid,
        use=row.use,
        alg=row.alg,
        status=row.status,
        key=key,
        public=row.public_jwk,
        retire_after=row.retire_after,
    )
