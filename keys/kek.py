"""Secrets at rest: AES-256-GCM under a key derived from PORTCULLIS_KEK (or SECRET_KEY)."""

from __future__ import annotations

import base64
import functools
import os
import warnings

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from keys.conf import keys_settings

VERSION = "v1"
_INFO = b"portcullis key-encryption key v1"


@functools.cache
def _aead(material: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode()
    )
    return AESGCM(derived)


def _cipher() -> AESGCM:
    material = keys_settings.KEK
    if not material:
        warnings.warn(
            "PORTCULLIS_KEK is not set: secrets at rest are encrypted under a key derived from "
            "SECRET_KEY. Set PORTCULLIS_KEK in production.",
            stacklevel=3,
        )
        material = settings.SECRET_KEY
    return _aead(material)


def seal(plaintext: bytes, *, purpose: str) -> str:
    """Encrypt a secret for storage; `purpose` binds the ciphertext to its use."""
    nonce = os.urandom(12)
    sealed = _cipher().encrypt(nonce, plaintext, purpose.encode())
    return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(stored: str, *, purpose: str) -> bytes:
    """Decrypt a stored secret; raises cryptography's InvalidTag when the KEK is wrong."""
    _, _, encoded = stored.partition(".")
    raw = base64.urlsafe_b64decode(encoded)
    return _cipher().decrypt(raw[:12], raw[12:], purpose.encode())
