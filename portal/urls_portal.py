"""The developer portal's pages."""

from django.urls import path

from portal import mcp_views, views

app_name = "portal"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("apis/<slug:slug>/", views.api_detail, name="api-detail"),
    path("apis/<slug:slug>/openapi.json", views.api_openapi, name="api-openapi"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/password/", views.password_change, name="password-change"),
    path("accounts/password/done/", views.password_change_done, name="password-change-done"),
    path("apps/", views.applications, name="applications"),
    path("apps/<int:pk>/rotate/", views.application_rotate, name="application-rotate"),
    path("apps/<int:pk>/delete/", views.application_delete, name="application-delete"),
    path("apps/<int:pk>/mcp/", mcp_views.application_mcp, name="application-mcp"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path(
        "subscriptions/<int:pk>/revoke/",
        views.subscription_revoke_view,
        name="subscription-revoke",
    ),
    path("usage/", views.usage, name="usage"),
]
