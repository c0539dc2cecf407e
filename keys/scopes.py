"""Which scopes (API slugs) an application may put in its access token."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.module_loading import import_string

from keys.conf import keys_settings
from keys.errors import InvalidScope
from keys.models import Application


def _subscribed_slugs(application: Application) -> list[str]:
    # The catalog lives above keys; it is named in settings so that keys imports nothing of it.
    source: Callable[..., list[str]] = import_string(keys_settings.SCOPE_SOURCE)
    return list(source(application_id=application.pk))


def granted_scope(application: Application, requested: list[str] | None) -> list[str]:
    """The requested slugs, or all subscribed ones; InvalidScope names any not subscribed."""
    subscribed = _subscribed_slugs(application)
    if not requested:
        return sorted(subscribed)
    unknown = sorted(set(requested) - set(subscribed))
    if unknown:
        raise InvalidScope(f"Not an active subscription of this application: {' '.join(unknown)}.")
    return sorted(set(requested))
