"""Namespaced settings: `PORTCULLIS[section][name]`, read through one object with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


class AppSettings:
    """One section of the PORTCULLIS settings dict, falling back to the app's defaults.

    Reads are cached; a test's `override_settings(PORTCULLIS=...)` resets the cache.
    """

    def __init__(self, section: str, defaults: dict[str, Any]) -> None:
        self.section = section
        self.defaults = defaults
        self._cache: dict[str, Any] = {}
        setting_changed.connect(self._reload, weak=False)

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"Invalid PORTCULLIS['{self.section}'] setting: {name}")
        if name not in self._cache:
            user = getattr(settings, "PORTCULLIS", {}).get(self.section, {})
            self._cache[name] = user.get(name, self.defaults[name])
        return self._cache[name]

    def _reload(self, *, setting: str, **kwargs: Any) -> None:
        if setting == "PORTCULLIS":
            self._cache.clear()
