"""The keys admin: staff see applications without their secrets and rotate token keys."""

from __future__ import annotations

import pytest

from keys.models import TokenKey
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def test_application_page_never_shows_the_secret_hash(client, staff, application):
    client.force_login(staff)

    response = client.get(f"/admin/keys/application/{application.pk}/change/")

    assert response.status_code == 200
    assert application.client_id in response.content.decode()
    assert application.secret_hash not in response.content.decode()


def test_key_list_shows_no_private_parts(client, staff, application):
    token_for(application)
    client.force_login(staff)
    key = TokenKey.objects.first()

    page = client.get(f"/admin/keys/tokenkey/{key.pk}/change/").content.decode()

    assert key.kid in page
    assert key.private_sealed not in page


def test_rotate_action_adds_new_active_keys(client, staff, application):
    token_for(application)
    client.force_login(staff)
    selected = list(TokenKey.objects.values_list("pk", flat=True))

    response = client.post(
        "/admin/keys/tokenkey/",
        {"action": "rotate", "_selected_action": selected},
        follow=True,
    )

    assert response.status_code == 200
    assert TokenKey.objects.filter(status="retiring").count() == 2
    assert TokenKey.objects.filter(status="active").exclude(pk__in=selected).count() == 2
