"""Settings of the keys app: `PORTCULLIS["KEYS"]`, with their defaults.

AUDIENCE is the `aud` of every access token: the gateway (and MCP, which runs the gateway's
checks). Left empty it is ISSUER + "/gw", so one deployment needs no extra setting.
"""

from __future__ import annotations

from core.conf import AppSettings

DEFAULTS = {
    "KEK": "",
    "ISSUER": "http://127.0.0.1:8000",
    "AUDIENCE": "",
    "ACCESS_TOKEN_LIFETIME": 900,
    "SIGNING_ALG": "ES256",
    "ENCRYPTION_ALG": "ECDH-ES+A256KW",
    "ENCRYPTION_ENC": "A256GCM",
    "LEEWAY": 30,
    "MAX_TOKEN_BYTES": 8192,
    "MAX_HEADER_BYTES": 1024,
    "CLAIMS_CACHE_SIZE": 10_000,
    "REVOCATION_POLL_SECONDS": 0.5,
    "KEYSET_POLL_SECONDS": 0.5,
    "CLIENT_AUTH_FAILURE_RATE": "10/m",
    "MAX_APPLICATIONS_PER_OWNER": 50,
}

keys_settings = AppSettings("KEYS", DEFAULTS)


def audience() -> str:
    """The `aud` of access tokens."""
    return keys_settings.AUDIENCE or keys_settings.ISSUER.rstrip("/") + "/gw"
