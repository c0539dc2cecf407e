"""Which scopes (API slugs) an application may put in its access token.

The catalog lives above keys: it registers where the slugs come from (`scope_source_register`,
from its AppConfig.ready()), so keys imports nothing of it. Without a catalog there are none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from keys.errors import InvalidScope
from keys.models import Application

ScopeSource = Callable[..., Iterable[str]]

_source: ScopeSource | None = None


def scope_source_register(source: ScopeSource) -> None:
    """Name the function `source(application_id=...)` giving an application's API slugs."""
    global _source
    _source = source


def _subscribed_slugs(application: Application) -> list[str]:
    return list(_source(application_id=application.pk)) if _source else []


def granted_scope(application: Application, requested: list[str] | None) -> list[str]:
    """The requested slugs, or all subscribed ones; InvalidScope names any not subscribed."""
    subscribed = _subscribed_slugs(application)
    if not requested:
        return sorted(subscribed)
    unknown = sorted(set(requested) - set(subscribed))
    if unknown:
        raise InvalidScope(f"Not an active subscription of this application: {' '.join(unknown)}.")
    return sorted(set(requested))
