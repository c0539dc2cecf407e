"""Client secrets: generated with a recognisable prefix, stored only as a hash, compared safely."""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, make_password

SECRET_PREFIX = "pcs_"  # noqa: S105 - a prefix, not a secret
CLIENT_ID_PREFIX = "pci_"


class ClientSecretHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few rounds: a client secret carries 256 random bits, not a human password.

    Key stretching only buys time against guessing low-entropy inputs; a 256-bit secret cannot
    be guessed, so the token endpoint need not pay a password hasher's ~300 ms per request.
    """

    algorithm = "pbkdf2_sha256_client_secret"
    iterations = 1_000


_hasher = ClientSecretHasher()


def new_client_id() -> str:
    """A public, unique client identifier."""
    return CLIENT_ID_PREFIX + secrets.token_urlsafe(16)


def new_client_secret() -> str:
    """A fresh secret, shown to its owner once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return make_password(secret, hasher=_hasher)


def secret_matches(secret: str, encoded: str) -> bool:
    """Constant-time comparison of a presented secret with its stored hash."""
    return bool(encoded) and check_password(secret, encoded)
