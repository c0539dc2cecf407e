"""Namespaced settings: defaults, overrides from PORTCULLIS, and refusal of unknown names."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.conf import AppSettings

shop = AppSettings("SHOP", {"OPEN": True, "SEATS": 3})


def test_defaults_apply_when_the_section_is_absent():
    with override_settings(PORTCULLIS={}):
        assert shop.SEATS == 3


def test_the_project_settings_override_the_defaults_and_changes_are_seen():
    with override_settings(PORTCULLIS={"SHOP": {"SEATS": 9}}):
        assert shop.SEATS == 9
        assert shop.OPEN is True
    with override_settings(PORTCULLIS={"SHOP": {"SEATS": 4}}):
        assert shop.SEATS == 4


def test_an_unknown_setting_is_an_error_naming_it():
    with pytest.raises(AttributeError, match=r"SHOP.*TABLES"):
        _ = shop.TABLES
