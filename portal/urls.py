"""The root URLconf: portal, admin, management API, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from apis.api import ApiViewSet, SubscriptionViewSet
from keys.api import ApplicationViewSet
from portal import health

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("apis", ApiViewSet, basename="api")
router.register("apps", ApplicationViewSet, basename="application")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")

api_v1 = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("portal.urls_portal")),
]
