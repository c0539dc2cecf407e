"""Access tokens: nested JWTs (RFC 7519 §11.2), signed (JWS) then encrypted (JWE compact).

Claims follow RFC 9068 (`typ: at+jwt`). Verification follows RFC 8725 and RFC 7519 §7.2:
structure first (cheap), then decryption with our key named by `kid`, the inner token only
when `cty` is JWT, the signature with our key named by its `kid`, then the claims.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from joserfc.errors import JoseError

from core.clock import clock
from core.single_flight import single_flight
from core.threads import in_database_thread
from keys import compact, keyring
from keys.algorithms import CONTENT_ENCRYPTION, KEY_ENCRYPTION, SIGNING
from keys.claims_cache import ClaimsCache
from keys.conf import audience, keys_settings
from keys.errors import InvalidToken
from keys.models import Application
from keys.revocation import revocations
from keys.scopes import granted_scope

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type, not a secret
# The single-flight key of a token's first verification (beside the token's digest).
VERIFYING = "token-verification"
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "app")


@dataclass(frozen=True)
class IssuedToken:
    """What the token endpoint hands out."""

    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token."""

    client_id: str
    application_id: int
    scope: tuple[str, ...]
    jti: str
    exp: int
    iat: int
    aud: str
    encrypted: bool


_claims: ClaimsCache[AccessClaims] = ClaimsCache(keys_settings.CLAIMS_CACHE_SIZE)


def issue_access_token(*, application: Application, scope: list[str] | None = None) -> IssuedToken:
    """A new access token for `application`; InvalidScope when `scope` exceeds its subscriptions."""
    granted = " ".join(granted_scope(application, scope))
    claims = _claims_for(application, granted)
    return IssuedToken(
        access_token=encrypt(sign(claims)),
        expires_in=keys_settings.ACCESS_TOKEN_LIFETIME,
        scope=granted,
    )


def _claims_for(application: Application, scope: str) -> dict[str, Any]:
    now = clock.now()
    return {
        "iss": keys_settings.ISSUER,
        "sub": application.client_id,
        "aud": audience(),
        "exp": now + keys_settings.ACCESS_TOKEN_LIFETIME,
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "client_id": application.client_id,
        "scope": scope,
        "app": application.pk,
    }


def sign(claims: dict[str, Any]) -> str:
    """The claims as a compact JWS made with the active signing key."""
    key = keyring.current().active("sig")
    header = {"alg": key.alg, "typ": TOKEN_TYPE, "kid": key.kid}
    payload = json.dumps(claims, separators=(",", ":"))
    return jws.serialize_compact(header, payload, key.key, algorithms=[key.alg])


def encrypt(signed: str) -> str:
    """A compact JWE of the signed token, to the active encryption key."""
    key = keyring.current().active("enc")
    enc = keys_settings.ENCRYPTION_ENC
    header = {"alg": key.alg, "enc": enc, "cty": "JWT", "kid": key.kid}
    return jwe.encrypt_compact(header, signed, key.key, algorithms=[key.alg, enc])


def verify_access_token(
    token: str, *, require_encrypted: bool = True, check_revocation: bool = True
) -> AccessClaims:
    """The claims of a valid, unexpired, unrevoked access token; InvalidToken otherwise.

    `check_revocation=False` skips the shared revocation list, for a gateway configured to
    fail open while the shared cache does not answer.
    """
    claims = _known_claims(token) or _verified_claims(token)
    _check_usable(claims, require_encrypted=require_encrypted)
    if check_revocation and revocations.is_revoked(claims.jti):
        raise InvalidToken("The token has been revoked.")
    return claims


async def averify_access_token(
    token: str, *, require_encrypted: bool = True, check_revocation: bool = True
) -> AccessClaims:
    """`verify_access_token` from async code: a token seen before costs no thread and no I/O
    but the revocation check; a new one is decrypted and verified off the event loop, once
    however many of the loop's calls bring it at the same moment (a client's first burst)."""
    claims = _known_claims(token)
    if claims is None:
        claims = await single_flight(
            (VERIFYING, _claims.digest(token)),
            lambda: in_database_thread(lambda: _verified_claims(token)),
        )
    _check_usable(claims, require_encrypted=require_encrypted)
    if check_revocation and await revocations.ais_revoked(claims.jti):
        raise InvalidToken("The token has been revoked.")
    return claims


def _known_claims(token: str) -> AccessClaims | None:
    if len(token) > keys_settings.MAX_TOKEN_BYTES or not token.isascii():
        raise InvalidToken(
            f"The token is not ASCII of at most {keys_settings.MAX_TOKEN_BYTES} bytes."
        )
    return _claims.get(_claims.digest(token))


def _verified_claims(token: str) -> AccessClaims:
    claims = _verify_cold(token)
    _claims.put(_claims.digest(token), claims)
    return claims


def _check_usable(claims: AccessClaims, *, require_encrypted: bool) -> None:
    if require_encrypted and not claims.encrypted:
        raise InvalidToken("This API accepts only encrypted access tokens.")
    if claims.exp + keys_settings.LEEWAY <= clock.now():
        raise InvalidToken("The token has expired.")


def revoke_access_token(claims: AccessClaims) -> None:
    """Refuse this token everywhere from now on (within REVOCATION_POLL_SECONDS)."""
    revocations.revoke(claims.jti, exp=claims.exp)


def forget_verified_claims() -> None:
    """Empty this process's claims cache (for benchmarks and key compromise)."""
    _claims.clear()


def _verify_cold(token: str) -> AccessClaims:
    segments = compact.split(token, max_bytes=keys_settings.MAX_TOKEN_BYTES)
    if len(segments) == compact.JWE_SEGMENTS:
        signed = _decrypt(token, segments[0])
        payload = _verify_signature(signed)
        return _validated(payload, encrypted=True)
    return _validated(_verify_signature(token), encrypted=False)


def _decrypt(token: str, header_segment: str) -> str:
    header = compact.protected_header(header_segment, max_bytes=keys_settings.MAX_HEADER_BYTES)
    enc = header.get("enc")
    if (
        header["alg"] not in KEY_ENCRYPTION
        or not isinstance(enc, str)
        or enc not in CONTENT_ENCRYPTION
    ):
        raise InvalidToken("The token's encryption algorithm is not accepted.")
    key = keyring.find(header["kid"], "enc")
    if key is None or key.alg != header["alg"]:
        raise InvalidToken("The token is encrypted to a key this server does not hold.")
    _check_ephemeral_key(header, key)
    try:
        result = jwe.decrypt_compact(token, key.key, algorithms=[key.alg, enc])
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidToken("The token could not be decrypted.") from exc
    # RFC 7519 §7.2 step 8: recurse into the content only when it says it is a JWT.
    if str(result.protected.get("cty", "")).upper() != "JWT":
        raise InvalidToken("The encrypted token does not contain a signed JWT (cty).")
    # joserfc fills the plaintext of every compact JWE it decrypts; None only types that.
    if result.plaintext is None:
        raise InvalidToken("The encrypted token has no content.")
    try:
        return result.plaintext.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidToken("The encrypted content is not a compact JWS.") from exc


def _check_ephemeral_key(header: dict[str, Any], key: keyring.LoadedKey) -> None:
    """ECDH-ES: the sender's ephemeral key must be on our key's curve (invalid-curve attacks)."""
    if not key.alg.startswith("ECDH-ES"):
        return
    epk = header.get("epk")
    if not isinstance(epk, dict) or (epk.get("kty"), epk.get("crv")) != ("EC", key.public["crv"]):
        raise InvalidToken("The token's ephemeral key (epk) is not on the expected curve.")


def _verify_signature(signed: str) -> dict[str, Any]:
    segments = compact.split(signed, max_bytes=keys_settings.MAX_TOKEN_BYTES)
    if len(segments) != compact.JWS_SEGMENTS:
        raise InvalidToken("The signed token is not a compact JWS.")
    header = compact.protected_header(segments[0], max_bytes=keys_settings.MAX_HEADER_BYTES)
    if header["alg"] not in SIGNING:
        raise InvalidToken("The token's signature algorithm is not accepted.")
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidToken(f"The token type (typ) must be {TOKEN_TYPE}.")
    key = keyring.find(header["kid"], "sig")
    if key is None or key.alg != header["alg"]:
        raise InvalidToken("The token is signed with a key this server does not know.")
    try:
        result = jws.deserialize_compact(signed, key.key, algorithms=[key.alg])
        payload = json.loads(result.payload)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidToken("The token signature is invalid.") from exc
    if not isinstance(payload, dict):
        raise InvalidToken("The token claims are not a JSON object.")
    return payload


def _validated(payload: dict[str, Any], *, encrypted: bool) -> AccessClaims:
    missing = [name for name in REQUIRED_CLAIMS if name not in payload]
    if missing:
        raise InvalidToken(f"The token lacks required claims: {', '.join(missing)}.")
    _check_claim_values(payload)
    return AccessClaims(
        client_id=payload["client_id"],
        application_id=payload["app"],
        scope=tuple(payload["scope"].split()),
        jti=payload["jti"],
        exp=payload["exp"],
        iat=payload["iat"],
        aud=audience(),
        encrypted=encrypted,
    )


def _check_claim_values(payload: dict[str, Any]) -> None:
    now, leeway = clock.now(), keys_settings.LEEWAY
    if payload["iss"] != keys_settings.ISSUER:
        raise InvalidToken("The token was issued by another issuer.")
    aud = payload["aud"]
    if audience() not in (aud if isinstance(aud, list) else [aud]):
        raise InvalidToken("The token is meant for another audience.")
    numbers = (payload["exp"], payload["nbf"], payload["iat"], payload["app"])
    strings = (payload["jti"], payload["client_id"], payload["scope"], payload["sub"])
    if not all(type(n) is int for n in numbers) or not all(isinstance(s, str) for s in strings):
        raise InvalidToken("The token claims have the wrong types.")
    if payload["exp"] + leeway <= now:
        raise InvalidToken("The token has expired.")
    if payload["nbf"] - leeway > now:
        raise InvalidToken("The token is not valid yet (nbf).")
    if payload["sub"] != payload["client_id"]:
        raise InvalidToken("The token's subject and client differ.")
