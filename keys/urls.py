"""URLs of the OAuth endpoints and the well-known documents of the authorization server."""

from django.urls import path

from keys import oauth

urlpatterns = [
    path("oauth/token", oauth.token, name="oauth-token"),
    path("oauth/revoke", oauth.revoke, name="oauth-revoke"),
    path("oauth/introspect", oauth.introspect, name="oauth-introspect"),
    path(".well-known/jwks.json", oauth.jwks, name="jwks"),
    path(".well-known/oauth-authorization-server", oauth.metadata, name="oauth-metadata"),
]
