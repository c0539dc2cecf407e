"""The JOSE algorithms access tokens may use, and how a key for each is generated."""

from __future__ import annotations

from collections.abc import Callable

from joserfc.jwk import ECKey, OKPKey, RSAKey

Key = ECKey | RSAKey | OKPKey

# RFC 8725 §3.1: verifiers allow-list algorithms, with separate lists for each layer.
SIGNING: dict[str, Callable[[], Key]] = {
    "ES256": lambda: ECKey.generate_key("P-256", private=True),
    "RS256": lambda: RSAKey.generate_key(2048, private=True),
    "EdDSA": lambda: OKPKey.generate_key("Ed25519", private=True),
    # RFC 9864's fully specified name for EdDSA on Ed25519, which deprecates plain "EdDSA".
    "Ed25519": lambda: OKPKey.generate_key("Ed25519", private=True),
}
KEY_ENCRYPTION: dict[str, Callable[[], Key]] = {
    "ECDH-ES+A256KW": lambda: ECKey.generate_key("P-256", private=True),
    "RSA-OAEP-256": lambda: RSAKey.generate_key(2048, private=True),
}
CONTENT_ENCRYPTION = frozenset({"A256GCM"})

KEY_TYPES: dict[str, type[Key]] = {
    "ES256": ECKey,
    "RS256": RSAKey,
    "EdDSA": OKPKey,
    "Ed25519": OKPKey,
}
KEY_TYPES.update({"ECDH-ES+A256KW": ECKey, "RSA-OAEP-256": RSAKey})


def generate(alg: str) -> Key:
    """A new private key for `alg`, which must be on one of the allow-lists."""
    factory = SIGNING.get(alg) or KEY_ENCRYPTION.get(alg)
    if factory is None:
        raise ValueError(f"Unsupported token algorithm: {alg}")
    return factory()
