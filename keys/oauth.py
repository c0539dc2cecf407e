"""The OAuth 2.0 endpoints: token (RFC 6749 §4.4), revoke (RFC 7009), introspect (RFC 7662),
and the published key set and server metadata (RFC 8414)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.problems import problem_response
from keys import keyring
from keys.algorithms import CONTENT_ENCRYPTION, KEY_ENCRYPTION, SIGNING
from keys.client_auth import TooManyAttempts, authenticate_client
from keys.conf import keys_settings
from keys.errors import InvalidToken, OAuthError
from keys.tokens import (
    AccessClaims,
    issue_access_token,
    revoke_access_token,
    verify_access_token,
)

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
View = Callable[[HttpRequest], JsonResponse]


def _json(body: dict[str, Any], status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in {**NO_STORE, **(headers or {})}.items():
        response[name] = value
    return response


def oauth_endpoint(view: Callable[[HttpRequest, dict[str, str]], JsonResponse]) -> View:
    """POST with a form body; OAuth errors rendered as RFC 6749 §5.2 says."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest) -> JsonResponse:
        if request.method != "POST":
            return problem_response(405, "Use POST.", headers={"Allow": "POST"})
        try:
            return view(request, _form(request))
        except OAuthError as exc:
            return _json(exc.body(), exc.status, exc.headers)
        except TooManyAttempts as exc:
            return problem_response(429, exc.detail, headers={**exc.headers, **NO_STORE})

    return wrapped


def _form(request: HttpRequest) -> dict[str, str]:
    if request.body and request.content_type != FORM:
        raise OAuthError(f"Send the parameters as {FORM}.")
    # RFC 6749 §3.2: parameters must not be included more than once.
    repeated = [name for name, values in request.POST.lists() if len(values) > 1]
    if repeated:
        raise OAuthError(f"Parameters sent more than once: {', '.join(sorted(repeated))}.")
    return request.POST.dict()


@oauth_endpoint
def token(request: HttpRequest, form: dict[str, str]) -> JsonResponse:
    """Issue an access token to an authenticated client (client credentials grant)."""
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("The grant_type parameter is required.")
    if grant_type != "client_credentials":
        raise OAuthError(
            "Only the client_credentials grant is supported.", error="unsupported_grant_type"
        )
    application = authenticate_client(request, form)
    issued = issue_access_token(application=application, scope=form.get("scope", "").split())
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    return _json(body)


@oauth_endpoint
def revoke(request: HttpRequest, form: dict[str, str]) -> JsonResponse:
    """Revoke one of the client's own access tokens; 200 whatever the token (RFC 7009 §2.2)."""
    claims = _callers_own_token(request, form)
    if claims is not None:
        revoke_access_token(claims)
    return _json({})


@oauth_endpoint
def introspect(request: HttpRequest, form: dict[str, str]) -> JsonResponse:
    """The claims of one of the client's own active tokens, else `{"active": false}`."""
    claims = _callers_own_token(request, form)
    if claims is None:
        return _json({"active": False})
    body = {
        "active": True,
        "scope": " ".join(claims.scope),
        "client_id": claims.client_id,
        "sub": claims.client_id,
        "token_type": "Bearer",
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.iat,
        "aud": claims.aud,
        "iss": keys_settings.ISSUER,
        "jti": claims.jti,
    }
    return _json(body)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The public signing keys and the gateway's public encryption keys (RFC 7517)."""
    response = JsonResponse(keyring.current().public_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def metadata(request: HttpRequest) -> JsonResponse:
    """Authorization server metadata (RFC 8414)."""
    base = keys_settings.ISSUER.rstrip("/")
    return JsonResponse(
        {
            "issuer": keys_settings.ISSUER,
            "token_endpoint": base + reverse("oauth-token"),
            "revocation_endpoint": base + reverse("oauth-revoke"),
            "introspection_endpoint": base + reverse("oauth-introspect"),
            "jwks_uri": base + reverse("jwks"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": [],
            "access_token_signing_alg_values_supported": sorted(SIGNING),
            "access_token_encryption_alg_values_supported": sorted(KEY_ENCRYPTION),
            "access_token_encryption_enc_values_supported": sorted(CONTENT_ENCRYPTION),
        }
    )


def _callers_own_token(request: HttpRequest, form: dict[str, str]) -> AccessClaims | None:
    """The claims of the form's token when it is valid and the authenticated client's own."""
    application = authenticate_client(request, form)
    if "token" not in form:
        raise OAuthError("The token parameter is required.")
    try:
        claims = verify_access_token(form["token"], require_encrypted=False)
    except InvalidToken:
        return None
    return claims if claims.client_id == application.client_id else None
