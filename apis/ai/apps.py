"""Application config of the AI area."""

from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "apis.ai"
    label = "ai"
    verbose_name = "AI"
    default_auto_field = "django.db.models.BigAutoField"
