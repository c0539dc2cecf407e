"""The lifecycle: the transition table, guards, history, effects and the protected state."""

from __future__ import annotations

import pytest
from django.core import mail

from apis.models import Subscription
from apis.services import api_transition
from lifecycle.errors import TransitionNotAllowed
from lifecycle.models import StateChangeOutsideTransition
from lifecycle.selectors import history_of
from tests.factories import ApiFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["published"], True),
        (["retired"], True),
        (["published", "deprecated"], True),
        (["published", "deprecated", "published"], True),
        (["published", "deprecated", "retired"], True),
        (["deprecated"], False),
        (["published", "retired"], False),
        (["published", "published"], False),
        (["retired", "published"], False),
        (["retired", "design"], False),
        (["published", "design"], False),
    ],
)
def test_transition_table(path, allowed, staff):
    api = ApiFactory()
    PlanFactory(api=api)
    *before, last = path
    for state in before:
        api_transition(api=api, to=state, actor=staff)
    if allowed:
        api_transition(api=api, to=last, actor=staff)
        assert api.state == last
    else:
        with pytest.raises(TransitionNotAllowed):
            api_transition(api=api, to=last, actor=staff)


def test_forbidden_transition_names_the_allowed_ones():
    api = ApiFactory(published=True)
    with pytest.raises(TransitionNotAllowed) as caught:
        api_transition(api=api, to="retired", actor=None)
    assert caught.value.status == 409
    assert caught.value.extra["allowed"] == ["deprecated"]
    assert "deprecated" in caught.value.detail


def test_publishing_needs_a_plan():
    api = ApiFactory()
    with pytest.raises(Exception, match="plan"):
        api_transition(api=api, to="published", actor=None)
    api.refresh_from_db()
    assert api.state == "design"
    assert not history_of(api).exists()


def test_every_transition_writes_history(staff):
    api = ApiFactory(published=True)
    api_transition(api=api, to="deprecated", actor=staff, note="v2 is out")
    events = list(history_of(api))
    assert [(e.from_state, e.to_state) for e in events] == [
        ("published", "deprecated"),
        ("design", "published"),
    ]
    assert events[0].actor == staff
    assert events[0].note == "v2 is out"


def test_state_cannot_be_assigned_outside_the_service():
    api = ApiFactory()
    api.state = "published"
    with pytest.raises(StateChangeOutsideTransition):
        api.save()


def test_deprecation_emails_every_subscribed_developer(django_capture_on_commit_callbacks):
    from datetime import UTC, datetime

    sub = SubscriptionFactory()
    SubscriptionFactory(api=sub.api)
    sunset = datetime(2027, 6, 30, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        api_transition(api=sub.api, to="deprecated", actor=None, sunset=sunset)
    assert len(mail.outbox) == 2
    assert "2027-06-30" in mail.outbox[0].body
    assert {m.to[0] for m in mail.outbox} == {
        s.application.created_by.email for s in sub.api.subscriptions.all()
    }


def test_retiring_ends_every_subscription():
    sub = SubscriptionFactory()
    pending = SubscriptionFactory(
        api=sub.api, status=Subscription.Status.PENDING, plan=sub.api.plans.first()
    )
    api_transition(api=sub.api, to="deprecated", actor=None)
    api_transition(api=sub.api, to="retired", actor=None)
    sub.refresh_from_db()
    pending.refresh_from_db()
    assert sub.status == pending.status == "ended"
