"""`manage.py demo`: idempotent demo data covering every lifecycle state."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.urls import resolve

from apis.models import Api, Plan, Subscription, Tag
from keys.models import Application
from keys.services import application_authenticate
from lifecycle.models import LifecycleEvent

pytestmark = pytest.mark.django_db

MODELS = (get_user_model(), Api, Plan, Subscription, Tag, Application, LifecycleEvent)


def run_demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_demo_run_twice_changes_nothing_and_prints_the_same(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    run_demo()
    after_first = counts()

    second, third = run_demo(), run_demo()

    assert counts() == after_first
    assert second == third
    assert "Created" not in second


def test_demo_creates_an_api_in_every_lifecycle_state():
    run_demo()

    states = set(Api.objects.values_list("state", flat=True))
    deprecated = Api.objects.get(state="deprecated")

    assert states == {"design", "published", "deprecated", "retired"}
    assert deprecated.sunset is not None
    assert Plan.objects.filter(requires_approval=True, api__state="published").exists()
    assert Tag.objects.filter(name="demo").get().apis.count() == Api.objects.count()
    assert all(api.openapi["paths"] for api in Api.objects.filter(state="published"))


def test_demo_history_shows_how_each_api_reached_its_state():
    run_demo()

    retired = Api.objects.get(state="retired")
    steps = LifecycleEvent.objects.filter(object_id=str(retired.pk)).order_by("at", "id")

    assert [event.to_state for event in steps] == ["published", "deprecated", "retired"]
    assert {event.actor.username for event in steps} == {"admin"}


def test_demo_rest_apis_forward_to_the_projects_own_demo_upstream():
    run_demo()

    for api in Api.objects.filter(kind="rest"):
        url = urlsplit(api.upstream_url)
        assert (url.scheme, url.netloc) == ("http", "127.0.0.1:8000")
        assert resolve(url.path).func.__module__ == "portal.demo_upstream"


def test_demo_prints_a_generated_admin_password_that_logs_in(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)

    output = run_demo()

    password = re.search(r"Created user 'admin', password: (\S+)", output)[1]
    admin = authenticate(username="admin", password=password)
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert "http://127.0.0.1:8000/admin/" in output and "http://127.0.0.1:8000/" in output


def test_demo_admin_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "castle-gate-42")

    output = run_demo()

    assert authenticate(username="admin", password="castle-gate-42") is not None
    assert "castle-gate-42" not in output
    assert "password: from DEMO_ADMIN_PASSWORD" in output


def test_existing_admin_keeps_its_password_and_is_told_how_to_reset_it(monkeypatch, staff):
    staff.set_password("kept-password-1")
    staff.save()
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "ignored-now")

    output = run_demo()

    assert authenticate(username="admin", password="kept-password-1") is not None
    assert "manage.py changepassword admin" in output


def test_demo_application_secret_is_printed_once_and_works():
    first = run_demo()
    second = run_demo()

    client_id, secret = re.search(r"client_id (\S+), client_secret (\S+)", first).groups()
    assert application_authenticate(client_id=client_id, client_secret=secret) is not None
    assert secret not in second


def test_demo_subscriptions_show_approval_deprecation_and_retirement():
    run_demo()

    statuses = dict(
        Subscription.objects.filter(application__created_by__username="developer").values_list(
            "api__slug", "status"
        )
    )
    assert statuses == {
        "echo": "active",
        "items": "pending",  # its plan requires approval: an admin's first task
        "clock-v1": "active",  # still served while deprecated, with Deprecation headers
        "legacy-echo": "ended",  # retiring ended it
        "echo-ai": "active",  # AI and prompt APIs can be tried at once
        "sentiment": "active",
        "translate": "active",
    }
