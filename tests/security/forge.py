"""Builds hostile access tokens for real: real keys, real signatures, real encryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwe, jws
from joserfc.jwk import ECKey

from core.clock import clock
from keys import keyring
from keys.conf import audience, keys_settings
from keys.models import Application


def b64(data: bytes | str | dict) -> str:
    """base64url without padding, of bytes, text or a JSON object."""
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    """The bytes of a base64url segment."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims(application: Application, **changes: Any) -> dict[str, Any]:
    """Valid claims of `application`; a change to None removes that claim."""
    now = clock.now()
    values = {
        "iss": keys_settings.ISSUER,
        "sub": application.client_id,
        "aud": audience(),
        "exp": now + 900,
        "iat": now,
        "nbf": now,
        "jti": hashlib.sha256(str(now).encode() + application.client_id.encode()).hexdigest(),
        "client_id": application.client_id,
        "scope": "",
        "app": application.pk,
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def sig_key() -> keyring.LoadedKey:
    """Our active signing key."""
    return keyring.current().active("sig")


def enc_key() -> keyring.LoadedKey:
    """Our active encryption key (its public part is published: anyone can encrypt to it)."""
    return keyring.current().active("enc")


def es256(header: dict, payload: dict | bytes, private: ECKey) -> str:
    """A compact JWS signed with ES256 by hand, so any header at all can be signed."""
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    der = private.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input.decode()}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def signed(application: Application, header: dict | None = None, **changes: Any) -> str:
    """A JWS by our own signing key, with header and claim changes."""
    key = sig_key()
    base = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    merged = {k: v for k, v in {**base, **(header or {})}.items() if v is not None}
    return es256(merged, claims(application, **changes), key.key)


def hs256(header: dict, payload: dict, secret: bytes) -> str:
    """A compact JWS keyed with an HMAC secret."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def encrypted(inner: str | bytes, header: dict | None = None, *, algs: list[str] | None = None):
    """A compact JWE to our published encryption key, as anyone could make it."""
    key = enc_key()
    public = ECKey.import_key(key.public)
    base = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT", "kid": key.kid}
    merged = {k: v for k, v in {**base, **(header or {})}.items() if v is not None}
    allowed = algs or [merged["alg"], merged["enc"]]
    return jwe.encrypt_compact(merged, inner, public, algorithms=allowed)


def with_header(token: str, **changes: Any) -> str:
    """The token with its protected header rewritten (its other segments unchanged)."""
    first, rest = token.split(".", 1)
    header = json.loads(unb64(first))
    header.update(changes)
    return f"{b64(header)}.{rest}"


def flip(token: str, segment: int) -> str:
    """The token with one bit flipped in the middle of one segment."""
    parts = token.split(".")
    raw = bytearray(unb64(parts[segment]))
    raw[len(raw) // 2] ^= 0x01
    parts[segment] = b64(bytes(raw))
    return ".".join(parts)


def attacker_jws(application: Application, key: Any, alg: str, header: dict | None = None) -> str:
    """A JWS made with a key the attacker holds, naming our signing key's kid."""
    protected = {"alg": alg, "typ": "at+jwt", "kid": sig_key().kid, **(header or {})}
    return jws.serialize_compact(protected, json.dumps(claims(application)), key, algorithms=[alg])
