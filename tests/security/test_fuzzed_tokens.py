"""Whatever a client sends as a token, the answer is InvalidToken, never another error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.errors import InvalidToken
from keys.tokens import verify_access_token
from tests.factories import ApplicationFactory
from tests.security import forge
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@pytest.fixture
def genuine(db):
    return token_for(ApplicationFactory(owner__password="!"))


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text_is_refused_as_invalid_token(genuine, text):
    with pytest.raises(InvalidToken):
        verify_access_token(text)


@FUZZ
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_a_changed_character_anywhere_is_refused(genuine, position, replacement):
    index = position % len(genuine)
    mutated = genuine[:index] + replacement + genuine[index + 1 :]
    if mutated == genuine:
        return
    with pytest.raises(InvalidToken):
        verify_access_token(mutated)


@FUZZ
@given(name=st.sampled_from(["alg", "enc", "kid", "cty", "epk", "zip", "p2c"]), value=JSON_VALUES)
def test_any_value_in_a_jwe_header_member_is_refused(genuine, name, value):
    mutated = forge.with_header(genuine, **{name: value})
    with pytest.raises(InvalidToken):
        verify_access_token(mutated)


@FUZZ
@given(epk=st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "d"]), JSON_VALUES))
def test_any_ephemeral_key_shape_is_refused(genuine, epk):
    with pytest.raises(InvalidToken):
        verify_access_token(forge.with_header(genuine, epk=epk))


@FUZZ
@given(header=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_any_protected_header_object_is_refused(genuine, header):
    rest = genuine.split(".", 1)[1]
    with pytest.raises(InvalidToken):
        verify_access_token(f"{forge.b64(json.dumps(header))}.{rest}")


@pytest.fixture
def application(db):
    return ApplicationFactory(owner__password="!")


@FUZZ
@given(name=st.sampled_from(["alg", "typ", "kid", "crit", "jwk"]), value=JSON_VALUES)
def test_any_other_value_in_a_signed_header_member_is_refused(application, name, value):
    inner = forge.signed(application, {name: value})
    if value == json.loads(forge.unb64(forge.signed(application).split(".")[0])).get(name):
        return
    with pytest.raises(InvalidToken):
        verify_access_token(forge.encrypted(inner))
