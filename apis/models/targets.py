"""Upstream targets of a REST API: the backends its calls are balanced over, by weight."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apis.models.catalog import Api


class UpstreamTarget(models.Model):
    """One backend of a REST API: its base URL and its share of the calls."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="targets")
    url = models.URLField(max_length=500)
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Share of the calls, relative to the API's other targets (1-1000)",
    )

    class Meta:
        ordering = ["api", "id"]
        constraints = [models.UniqueConstraint(fields=["api", "url"], name="target_url_per_api")]

    def __str__(self) -> str:
        return f"{self.url} (weight {self.weight})"
