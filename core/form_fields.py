"""How the admin's model forms build their fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models


def https_form_field(field: models.Field, **kwargs: Any) -> forms.Field | None:
    """The model field's form field; a URL typed without a scheme is taken as https."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)
