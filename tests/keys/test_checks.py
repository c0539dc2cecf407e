"""System checks catch token settings the verifier would refuse."""

from __future__ import annotations

from django.test import override_settings

from keys.checks import token_settings_check


def test_default_token_settings_pass_the_checks():
    assert token_settings_check() == []


@override_settings(PORTCULLIS={"KEYS": {"SIGNING_ALG": "HS256", "ENCRYPTION_ALG": "RSA1_5"}})
def test_algorithms_outside_the_allow_lists_are_reported():
    ids = {error.id for error in token_settings_check()}

    assert ids == {"keys.E001", "keys.E002"}
