"""Application config of the keys app."""

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "Applications and keys"
    default_auto_field = "django.db.models.BigAutoField"
