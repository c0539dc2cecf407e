"""Every call that names an API and an identified application leaves one usage event."""

from __future__ import annotations

from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.asgi import AsgiClient
from tests.gateway.reading import body_of


def _events(api) -> list[UsageEvent]:
    usage_ingest()
    return list(UsageEvent.objects.filter(api=api).order_by("at", "id"))


def test_answered_and_refused_calls_are_each_accounted_once(gw, subscription, api):
    subscription.plan.rate_limit = "1/h"
    subscription.plan.save()
    answered = gw.post("/gw/orders/x", data=b"12345", content_type="text/plain")
    answered_body = body_of(answered)
    refused = gw.get("/gw/orders/x")
    body_of(refused)

    events = _events(api)

    assert [event.status for event in events] == [200, 429]
    first, second = events
    assert first.application_id == subscription.application_id
    assert first.subscription_id == subscription.pk
    assert first.bytes_in == 5
    assert first.bytes_out == len(answered_body)
    assert first.request_id == answered["X-Request-ID"]
    assert first.channel == "http"
    assert second.request_id == refused["X-Request-ID"]


def test_a_call_without_an_identified_application_is_not_accounted(api, upstream):
    body_of(AsgiClient().get("/gw/orders/x"))

    assert _events(api) == []


def test_a_declared_length_no_column_can_hold_is_refused_and_counted_as_received(gw, api):
    response = gw.post("/gw/orders/x", HTTP_CONTENT_LENGTH="99999999999999999999999")
    usage_ingest()

    assert response.status_code == 413
    assert UsageEvent.objects.get().bytes_in == 0
