"""Application config of the catalog app."""

from django.apps import AppConfig


class ApisConfig(AppConfig):
    name = "apis"
    verbose_name = "API catalog"
    default_auto_field = "django.db.models.BigAutoField"
