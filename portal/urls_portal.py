"""The developer portal's pages."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("apis/<slug:slug>/", views.api_detail, name="api-detail"),
]
