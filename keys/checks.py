"""System checks of the token settings: algorithms on the allow-lists, a sane lifetime."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from keys.algorithms import CONTENT_ENCRYPTION, KEY_ENCRYPTION, SIGNING
from keys.conf import keys_settings


@register()
def token_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse to start with a token algorithm or lifetime the verifier would not accept."""
    errors: list[CheckMessage] = []
    choices = [
        ("SIGNING_ALG", SIGNING, "keys.E001"),
        ("ENCRYPTION_ALG", KEY_ENCRYPTION, "keys.E002"),
        ("ENCRYPTION_ENC", CONTENT_ENCRYPTION, "keys.E003"),
    ]
    for name, allowed, code in choices:
        value = getattr(keys_settings, name)
        if value not in allowed:
            hint = f"Choose one of: {', '.join(sorted(allowed))}."
            errors.append(Error(f"PORTCULLIS['KEYS']['{name}'] = {value!r}", hint=hint, id=code))
    if not 0 < keys_settings.ACCESS_TOKEN_LIFETIME <= 86_400:
        errors.append(Error("ACCESS_TOKEN_LIFETIME must be 1 s to 1 day.", id="keys.E004"))
    return errors
