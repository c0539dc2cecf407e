"""Hostile access tokens, each built for real, each refused with 401 (RFC 8725, RFC 7519 §7.2)."""

from __future__ import annotations

import base64
import datetime
import json
import re
import tracemalloc

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from joserfc import jwe
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from apis.services import api_transition
from keys.errors import InvalidToken
from keys.tokens import verify_access_token
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.gateway.reading import json_of
from tests.security import forge
from tests.servers import Upstream
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def _call(token: str):
    """A call to the gateway's API `orders` with the token."""
    return AsgiClient().get("/gw/orders/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")


def _alien_ec() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def _self_signed_cert_b64(key: ECKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def alg_none_plain(app):
    header = {"alg": "none", "typ": "at+jwt", "kid": forge.sig_key().kid}
    return f"{forge.b64(header)}.{forge.b64(forge.claims(app))}."


def alg_none_inside_valid_jwe(app):
    return forge.encrypted(alg_none_plain(app))


def hmac_keyed_with_our_public_key(app):
    pem = forge.sig_key().key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": forge.sig_key().kid}
    return forge.encrypted(forge.hs256(header, forge.claims(app), pem))


def hmac_keyed_with_our_public_jwk(app):
    jwk = json.dumps(forge.sig_key().public).encode()
    header = {"alg": "HS256", "typ": "at+jwt", "kid": forge.sig_key().kid}
    return forge.encrypted(forge.hs256(header, forge.claims(app), jwk))


def jws_alg_ps256_not_allowed(app):
    return forge.encrypted(forge.attacker_jws(app, RSAKey.generate_key(2048), "PS256"))


def jws_alg_es384_not_allowed(app):
    key = ECKey.generate_key("P-384", private=True)
    return forge.encrypted(forge.attacker_jws(app, key, "ES384"))


def forged_signature_naming_our_kid(app):
    return forge.encrypted(forge.attacker_jws(app, _alien_ec(), "ES256"))


def eddsa_by_attacker_naming_our_kid(app):
    key = OKPKey.generate_key("Ed25519", private=True)
    return forge.encrypted(forge.attacker_jws(app, key, "EdDSA"))


def jwe_alg_rsa1_5(app):
    key = RSAKey.generate_key(2048, private=True)
    header = {"alg": "RSA1_5", "enc": "A256GCM", "cty": "JWT", "kid": forge.enc_key().kid}
    return jwe.encrypt_compact(header, token_inner(app), key, algorithms=["RSA1_5", "A256GCM"])


def jwe_alg_dir(app):
    header = {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": forge.enc_key().kid}
    key = OctKey.generate_key(256)
    return jwe.encrypt_compact(header, token_inner(app), key, algorithms=["dir", "A256GCM"])


def jwe_alg_ecdh_es_direct(app):
    return forge.encrypted(token_inner(app), {"alg": "ECDH-ES"})


def jwe_enc_cbc_not_allowed(app):
    return forge.encrypted(token_inner(app), {"enc": "A128CBC-HS256"})


def pbes2_with_huge_p2c(app):
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "JWT", "p2c": 1000}
    header["kid"] = forge.enc_key().kid
    password = OctKey.import_key("guessable-password")
    real = jwe.encrypt_compact(
        header, token_inner(app), password, algorithms=["PBES2-HS256+A128KW", "A256GCM"]
    )
    return forge.with_header(real, p2c=2**31 - 1)


def compressed_payload_zip(app):
    return forge.encrypted(
        token_inner(app), {"zip": "DEF"}, algs=["ECDH-ES+A256KW", "A256GCM", "DEF"]
    )


def unknown_crit_in_jws(app):
    return forge.encrypted(forge.signed(app, {"crit": ["exp-policy"], "exp-policy": "lax"}))


def unknown_crit_in_jwe(app):
    return forge.with_header(token_for(app), crit=["exp-policy"], **{"exp-policy": "lax"})


def embedded_jwk_in_jws(app):
    key = _alien_ec()
    public = key.as_dict(private=False)
    return forge.encrypted(forge.attacker_jws(app, key, "ES256", {"jwk": public}))


def jku_in_jws(app):
    header = {"jku": "https://attacker.example/jwks.json"}
    return forge.encrypted(forge.attacker_jws(app, _alien_ec(), "ES256", header))


def x5u_in_jws(app):
    header = {"x5u": "https://attacker.example/cert.pem"}
    return forge.encrypted(forge.attacker_jws(app, _alien_ec(), "ES256", header))


def x5c_in_jws(app):
    key = _alien_ec()
    header = {"x5c": [_self_signed_cert_b64(key)]}
    return forge.encrypted(forge.attacker_jws(app, key, "ES256", header))


def jwk_in_jwe_header(app):
    return forge.with_header(token_for(app), jwk=_alien_ec().as_dict(private=False))


def unknown_kid_in_jws(app):
    return forge.encrypted(forge.signed(app, {"kid": "attacker-key"}))


def unknown_kid_in_jwe(app):
    return forge.with_header(token_for(app), kid="attacker-key")


def signed_with_our_encryption_key_kid(app):
    return forge.encrypted(forge.signed(app, {"kid": forge.enc_key().kid}))


def tampered_encrypted_key(app):
    return forge.flip(token_for(app), 1)


def tampered_iv(app):
    return forge.flip(token_for(app), 2)


def tampered_ciphertext(app):
    return forge.flip(token_for(app), 3)


def tampered_tag(app):
    return forge.flip(token_for(app), 4)


def tampered_protected_header(app):
    return forge.with_header(token_for(app), cty="jwt", extra="x")


def ephemeral_key_off_the_curve(app):
    real = token_for(app)
    point = {"kty": "EC", "crv": "P-256", "x": forge.b64(b"\x00" * 31 + b"\x01")}
    point["y"] = forge.b64(b"\x00" * 31 + b"\x01")
    return forge.with_header(real, epk=point)


def ephemeral_key_on_another_curve(app):
    other = ECKey.generate_key("P-384", private=True).as_dict(private=False)
    return forge.with_header(token_for(app), epk=other)


def typ_jwt_instead_of_at_jwt(app):
    return forge.encrypted(forge.signed(app, {"typ": "JWT"}))


def typ_missing(app):
    return forge.encrypted(forge.signed(app, {"typ": None}))


def missing_jti(app):
    return forge.encrypted(forge.signed(app, jti=None))


def missing_exp(app):
    return forge.encrypted(forge.signed(app, exp=None))


def missing_aud(app):
    return forge.encrypted(forge.signed(app, aud=None))


def expired_beyond_leeway(app):
    return forge.encrypted(forge.signed(app, exp=forge.clock.now() - 31))


def not_before_beyond_leeway(app):
    return forge.encrypted(forge.signed(app, nbf=forge.clock.now() + 31))


def exp_as_string(app):
    return forge.encrypted(forge.signed(app, exp=str(forge.clock.now() + 900)))


def another_issuer(app):
    return forge.encrypted(forge.signed(app, iss="https://attacker.example"))


def another_audience(app):
    return forge.encrypted(forge.signed(app, aud="https://other.example/api"))


def subject_differs_from_client(app):
    return forge.encrypted(forge.signed(app, sub="pci_someone-else"))


def over_8_kb(app):
    return forge.encrypted(forge.signed(app, padding="x" * 8192))


def huge_protected_header(app):
    return forge.encrypted(forge.signed(app, {"note": "x" * 2048}))


def plain_jws_where_encryption_required(app):
    return forge.signed(app)


def jwe_without_cty(app):
    return forge.encrypted(token_inner(app), {"cty": None})


def jwe_of_bare_claims(app):
    return forge.encrypted(json.dumps(forge.claims(app)).encode(), {"cty": None})


def jwe_nested_twice(app):
    return forge.encrypted(token_for(app))


def four_segments(app):
    return token_for(app).rsplit(".", 1)[0]


def six_segments(app):
    return token_for(app) + ".AAAA"


def header_not_json(app):
    real = token_for(app)
    return forge.b64(b"{not json") + real[real.index(".") :]


def non_base64_characters(app):
    return token_for(app).replace("A", "*", 1)


def token_inner(app) -> str:
    """A valid inner JWS of `app`, signed with our own key."""
    return forge.signed(app)


HOSTILE = [
    (alg_none_plain, "signature algorithm"),
    (alg_none_inside_valid_jwe, "signature algorithm"),
    (hmac_keyed_with_our_public_key, "signature algorithm"),
    (hmac_keyed_with_our_public_jwk, "signature algorithm"),
    (jws_alg_ps256_not_allowed, "signature algorithm"),
    (jws_alg_es384_not_allowed, "signature algorithm"),
    (forged_signature_naming_our_kid, "signature is invalid"),
    (eddsa_by_attacker_naming_our_kid, "key this server does not know"),
    (jwe_alg_rsa1_5, "encryption algorithm"),
    (jwe_alg_dir, "encryption algorithm"),
    (jwe_alg_ecdh_es_direct, "encryption algorithm"),
    (jwe_enc_cbc_not_allowed, "encryption algorithm"),
    (pbes2_with_huge_p2c, "encryption algorithm"),
    (compressed_payload_zip, "Compressed"),
    (unknown_crit_in_jws, "critical"),
    (unknown_crit_in_jwe, "critical"),
    (embedded_jwk_in_jws, "not trusted (jwk)"),
    (jku_in_jws, "not trusted (jku)"),
    (x5u_in_jws, "not trusted (x5u)"),
    (x5c_in_jws, "not trusted (x5c)"),
    (jwk_in_jwe_header, "not trusted (jwk)"),
    (unknown_kid_in_jws, "key this server does not know"),
    (unknown_kid_in_jwe, "key this server does not hold"),
    (signed_with_our_encryption_key_kid, "key this server does not know"),
    (tampered_encrypted_key, "could not be decrypted"),
    (tampered_iv, "could not be decrypted"),
    (tampered_ciphertext, "could not be decrypted"),
    (tampered_tag, "could not be decrypted"),
    (tampered_protected_header, "could not be decrypted"),
    (ephemeral_key_off_the_curve, "could not be decrypted"),
    (ephemeral_key_on_another_curve, "ephemeral key"),
    (typ_jwt_instead_of_at_jwt, "typ"),
    (typ_missing, "typ"),
    (missing_jti, "lacks required claims: jti"),
    (missing_exp, "lacks required claims: exp"),
    (missing_aud, "lacks required claims: aud"),
    (expired_beyond_leeway, "expired"),
    (not_before_beyond_leeway, "not valid yet"),
    (exp_as_string, "wrong types"),
    (another_issuer, "another issuer"),
    (another_audience, "another audience"),
    (subject_differs_from_client, "subject and client differ"),
    (over_8_kb, "at most 8192 bytes"),
    (huge_protected_header, "header is too large"),
    (plain_jws_where_encryption_required, "only encrypted"),
    (jwe_without_cty, "(cty)"),
    (jwe_of_bare_claims, "(cty)"),
    (jwe_nested_twice, "not a compact JWS"),
    (four_segments, "neither a compact JWE"),
    (six_segments, "neither a compact JWE"),
    (header_not_json, "not valid JSON"),
    (non_base64_characters, "not base64url"),
]


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture
def app(db, upstream):
    """An application subscribed to the published API `orders`."""
    api = ApiFactory(slug="orders", upstream_url=upstream.url)
    PlanFactory(api=api, rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    application = ApplicationFactory(owner__password="!")  # unusable password: no slow hashing
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return application


def test_a_genuine_token_is_accepted(app, upstream):
    response = _call(token_for(app))

    assert response.status_code == 200
    assert upstream.hits["/whoami"] == 1


@pytest.mark.parametrize(("build", "reason"), HOSTILE, ids=[b.__name__ for b, _ in HOSTILE])
def test_hostile_token_is_refused_with_401_for_its_reason(app, upstream, build, reason):
    token = build(app)

    response = _call(token)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response["Content-Type"] == "application/problem+json"
    assert reason in json_of(response)["detail"]
    assert not upstream.hits
    with pytest.raises(InvalidToken, match=re.escape(reason)):
        verify_access_token(token)  # seen again: still refused, never cached as valid


def test_there_are_at_least_25_distinct_hostile_cases():
    assert len({build.__name__ for build, _ in HOSTILE}) >= 25


@pytest.mark.parametrize(("build", "reason"), HOSTILE, ids=[b.__name__ for b, _ in HOSTILE])
def test_refusing_a_hostile_token_allocates_only_a_few_kilobytes(app, build, reason):
    verify_access_token(token_for(app))  # keys loaded and cached, as on a serving process
    # Built after: making the keys can take a second, and a token whose nbf is 31 s ahead
    # (leeway 30 s) is refused only within the second it was made.
    token = build(app)

    tracemalloc.start()
    try:
        with pytest.raises(InvalidToken):
            verify_access_token(token)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Most refusals peak under 30 KB; an unknown kid costs one read of the shared key-set
    # version, and Django's Redis cache builds a client object (~50 KB) for every read.
    assert peak < 128 * 1024
