"""Error pages of the portal: the site's own layout, never Django's bare defaults."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.problems import handler400, handler403, handler500

pytestmark = pytest.mark.django_db


def test_unknown_page_answers_404_in_the_portal_layout(client):
    page = client.get("/apis/no-such-api/")

    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.text
    assert "Browse the catalog" in page.text
    assert "portal.css" in page.text


@pytest.mark.parametrize(
    ("handler", "status", "heading"),
    [
        (handler400, 400, "Bad request"),
        (handler403, 403, "Not allowed"),
        (handler500, 500, "Something went wrong"),
    ],
)
def test_portal_error_pages_are_the_sites_own(handler, status, heading):
    request = RequestFactory().get("/apps/")
    args = (request,) if handler is handler500 else (request, None)

    page = handler(*args)

    assert page.status_code == status
    assert f"<h1>{heading}</h1>" in page.content.decode()
