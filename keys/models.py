"""Client applications: the callers of the gateway, owned by teams."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from keys.secrets import new_client_id


class Application(models.Model):
    """A team's client application; its secret is kept only as a hash."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="applications")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="applications_created",
    )
    name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=64, unique=True, default=new_client_id, editable=False)
    secret_hash = models.CharField(max_length=256, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set by staff: what the application may spend on AI calls in a calendar month, every API.
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="USD per calendar month (UTC) on every AI API; empty for none",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="application_name_per_team")
        ]

    def __str__(self) -> str:
        return self.name


class TokenKey(models.Model):
    """A signing or encryption key of access tokens; its private part is encrypted at rest."""

    class Use(models.TextChoices):
        SIGNING = "sig", "Signing"
        ENCRYPTION = "enc", "Encryption"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRING = "retiring", "Retiring (verifies only)"
        RETIRED = "retired", "Retired"

    kid = models.CharField(max_length=64, unique=True, editable=False)
    use = models.CharField(max_length=3, choices=Use.choices, editable=False)
    alg = models.CharField(max_length=32, editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, editable=False
    )
    public_jwk = models.JSONField(editable=False)
    private_sealed = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retiring_at = models.DateTimeField(null=True, blank=True, editable=False)
    retire_after = models.DateTimeField(null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one active key per use: the one new tokens are made with.
            models.UniqueConstraint(
                fields=["use"], condition=models.Q(status="active"), name="one_active_key_per_use"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.use}, {self.alg}, {self.status})"
