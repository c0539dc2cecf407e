"""Client applications: the callers of the gateway, owned by developers."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from keys.secrets import new_client_id


class Application(models.Model):
    """A developer's client application; its secret is kept only as a hash."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="applications"
    )
    name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=64, unique=True, default=new_client_id, editable=False)
    secret_hash = models.CharField(max_length=256, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="application_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name
