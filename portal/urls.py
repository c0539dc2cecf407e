"""The root URLconf: portal, admin, management API, health."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apis.ai.api import PromptViewSet, ProviderViewSet
from apis.api import ApiViewSet, SubscriptionViewSet
from apis.gateway.view import GatewayView
from apis.mcp.views import ApiMcpView, McpView, protected_resource_metadata
from apis.usage.api import UsageViewSet
from keys.api import ApplicationViewSet
from portal import auth_tokens, health, metrics, views
from teams.api import TeamViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("apis", ApiViewSet, basename="api")
router.register("apps", ApplicationViewSet, basename="application")
router.register("providers", ProviderViewSet, basename="provider")
router.register("prompts", PromptViewSet, basename="prompt")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("usage", UsageViewSet, basename="usage")
router.register("teams", TeamViewSet, basename="team")

api_v1 = [
    path("auth/token/", auth_tokens.token_obtain, name="token-obtain"),
    path("auth/token/refresh/", auth_tokens.TokenRotateView.as_view(), name="token-refresh"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]

urlpatterns = [
    # The data plane first: every call resolves its URL, and each include tried before the
    # match costs an exception raised and caught. No other pattern matches these paths.
    re_path(r"^gw/(?P<slug>[-\w]+)/mcp$", ApiMcpView.as_view(), name="api-mcp"),
    re_path(r"^gw/(?P<slug>[-\w]+)(?:/(?P<path>.*))?$", GatewayView.as_view(), name="gateway"),
    path("mcp", McpView.as_view(), name="mcp"),
    # Before the admin's own: its login and password change check passwords through the guard.
    path("admin/login/", views.admin_login),
    path("admin/password_change/", views.admin_password_change),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path(
        ".well-known/oauth-protected-resource",
        protected_resource_metadata,
        name="oauth-protected-resource",
    ),
    # /oauth/token, /oauth/revoke, /oauth/introspect, /.well-known/jwks.json and RFC 8414 metadata
    path("", include("keys.urls")),
    path("demo-upstream/v1/", include("apis.ai.demo_provider")),  # the demo AI provider
    path("demo-upstream/", include("portal.demo_upstream")),  # what the demo APIs forward to
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("portal.urls_portal")),
]

handler400 = "core.problems.handler400"
handler403 = "core.problems.handler403"
handler404 = "core.problems.handler404"
handler500 = "core.outages.handler500"
