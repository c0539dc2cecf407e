"""Rate limits and monthly quotas, and the headers that announce them."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core import mail
from django.test import override_settings
from redis.crc import key_slot

from apis.gateway import counters
from apis.gateway.context import AdmittedCall
from apis.gateway.errors import GatewayError
from apis.gateway.limit import _take_for, limit, spend_keys
from apis.services import subscription_revoke
from apis.usage.models import SpendAlert
from core.shared import raw_key
from tests.asgi import AsgiClient
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.calls import admitted_call
from tests.gateway.reading import body_of, json_of
from tests.servers import free_port
from tests.tokens import token_for

QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


def _plan(subscription, **fields):
    for name, value in fields.items():
        setattr(subscription.plan, name, value)
    subscription.plan.save()


def test_rate_limit_admits_exactly_the_plan_limit_then_429(gw, subscription, upstream):
    _plan(subscription, rate_limit="3/h")

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert upstream.hits["/base/x"] == 3


def test_over_the_rate_limit_answers_quota_exceeded_with_retry_after(gw, subscription):
    _plan(subscription, rate_limit="1/h")
    gw.get("/gw/orders/x")

    response = gw.get("/gw/orders/x")

    problem = json_of(response)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert problem["type"] == QUOTA_EXCEEDED
    assert problem["violated-policies"] == ["rate"]
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_every_answer_carries_ratelimit_policy_and_ratelimit(gw, subscription):
    _plan(subscription, rate_limit="60/m")

    first, second = gw.get("/gw/orders/x"), gw.get("/gw/orders/x")

    assert first["RateLimit-Policy"] == '"rate";q=60;w=60'
    assert first["RateLimit"].startswith('"rate";r=59;t=')
    assert second["RateLimit"].startswith('"rate";r=58;t=')
    assert 0 <= int(second["RateLimit"].rsplit("t=", 1)[1]) <= 60


def test_the_next_rate_window_admits_calls_again(gw, subscription, manual_clock):
    _plan(subscription, rate_limit="2/m")
    assert [gw.get("/gw/orders/x").status_code for _ in range(3)] == [200, 200, 429]

    manual_clock.advance(60)

    assert gw.get("/gw/orders/x").status_code == 200


def test_a_call_retried_after_retry_after_seconds_is_admitted(gw, subscription, manual_clock):
    _plan(subscription, rate_limit="1/m")
    assert gw.get("/gw/orders/x").status_code == 200
    refused = gw.get("/gw/orders/x")
    assert refused.status_code == 429

    manual_clock.advance(int(refused["Retry-After"]))

    assert gw.get("/gw/orders/x").status_code == 200


def test_refused_answer_carries_ratelimit_headers_too(gw, subscription):
    _plan(subscription, rate_limit="1/h")
    gw.get("/gw/orders/x")

    response = gw.get("/gw/orders/x")

    assert response["RateLimit"].startswith('"rate";r=0;t=')


def test_rate_limit_is_counted_per_subscription(gw, subscription, api):
    _plan(subscription, rate_limit="1/h")
    other = SubscriptionFactory(application=ApplicationFactory(), api=api, plan=subscription.plan)
    other_client = AsgiClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(other.application)}")

    assert gw.get("/gw/orders/x").status_code == 200
    assert other_client.get("/gw/orders/x").status_code == 200
    assert gw.get("/gw/orders/x").status_code == 429


def test_every_counter_of_one_call_lies_in_one_cluster_slot(subscription):
    take = _take_for(subscription, subscription.plan, peek_key="")

    call_keys = (take.rate_key, take.month_key, take.token_key, *spend_keys(subscription))
    keys = [raw_key(key) for key in call_keys]

    assert len({key_slot(key.encode()) for key in keys}) == 1


def test_monthly_quota_admits_exactly_the_quota(gw, subscription, upstream):
    _plan(subscription, monthly_quota=2)

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(4)]
    response = gw.get("/gw/orders/x")

    assert statuses == [200, 200, 429, 429]
    assert upstream.hits["/base/x"] == 2
    assert json_of(response)["violated-policies"] == ["monthly"]
    assert int(response["Retry-After"]) <= 31 * 86400
    assert '"monthly";q=2;w=' in response["RateLimit-Policy"]
    assert '"monthly";r=0;t=' in response["RateLimit"]


def test_a_new_month_gives_the_monthly_quota_back(subscription, manual_clock):
    _plan(subscription, monthly_quota=1)
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(subscription.application)}")
    assert [client.get("/gw/orders/x").status_code for _ in range(2)] == [200, 429]

    manual_clock.advance(int(client.get("/gw/orders/x")["Retry-After"]))
    next_month = AsgiClient()  # the first token has long expired
    next_month.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(subscription.application)}")

    assert next_month.get("/gw/orders/x").status_code == 200


def test_calls_refused_by_the_rate_limit_do_not_use_up_the_monthly_quota(gw, subscription):
    _plan(subscription, rate_limit="1/h", monthly_quota=5)

    for _ in range(3):
        body_of(gw.get("/gw/orders/x"))

    assert '"monthly";r=4;' in gw.get("/gw/orders/x")["RateLimit"]


def test_the_owner_is_told_once_at_80_and_once_at_100_percent_of_the_monthly_quota(
    gw, subscription
):
    _plan(subscription, monthly_quota=5)

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(7)]

    assert statuses == [200] * 5 + [429] * 2
    alerts = SpendAlert.objects.order_by("threshold")
    assert [(a.policy, a.threshold, a.api_id) for a in alerts] == [
        ("monthly", 80, subscription.api_id),
        ("monthly", 100, subscription.api_id),
    ]
    assert len(mail.outbox) == 2
    assert "the monthly quota of 5 requests" in alerts[0].detail


def test_used_up_token_quota_answers_429(gw, subscription):
    _plan(subscription, token_quota=100)
    _use_tokens(subscription, 100)

    response = gw.get("/gw/orders/x")

    assert response.status_code == 429
    assert json_of(response)["violated-policies"] == ["tokens"]


@pytest.mark.parametrize("tokens", [0, 99])
def test_token_quota_not_yet_used_up_admits(gw, subscription, tokens):
    _plan(subscription, token_quota=100)
    _use_tokens(subscription, tokens)

    assert gw.get("/gw/orders/x").status_code == 200


def _use_tokens(subscription, tokens: int) -> None:
    """What AI calls of the application on the plan have used this month."""
    hold = counters.Hold(spend_keys(subscription), 0, tokens, (-1, -1, -1), 3600)
    assert async_to_sync(counters.reserve)(hold).taken


def _dead_redis_cache() -> dict:
    url = f"redis://127.0.0.1:{free_port()}/0"
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    backend = "django.core.cache.backends.redis.RedisCache"
    return {"default": {"BACKEND": backend, "LOCATION": url, "OPTIONS": options}}


def _limited_context(subscription) -> AdmittedCall:
    api = subscription.api
    return admitted_call(method="GET", slug="orders", api=api, subscription=subscription)


def test_unreachable_redis_fails_closed_with_503(subscription):
    ctx = _limited_context(subscription)

    with override_settings(CACHES=_dead_redis_cache()), pytest.raises(GatewayError) as refused:
        async_to_sync(limit)(ctx)

    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "1"


def test_unreachable_redis_fails_open_when_configured(subscription):
    ctx = _limited_context(subscription)
    fail_open = {**settings.PORTCULLIS, "GATEWAY": {"FAIL_OPEN": True}}

    with override_settings(CACHES=_dead_redis_cache(), PORTCULLIS=fail_open):
        async_to_sync(limit)(ctx)

    assert ctx.outcome.policies == []


def test_revoking_and_subscribing_again_keeps_the_rate_window_and_the_quota(gw, subscription):
    _plan(subscription, rate_limit="5/m", monthly_quota=8)
    statuses = [gw.get("/gw/orders/x").status_code for _ in range(5)]
    subscription_revoke(subscription=subscription, actor=subscription.application.created_by)
    SubscriptionFactory(
        application=subscription.application, api=subscription.api, plan=subscription.plan
    )

    statuses += [gw.get("/gw/orders/x").status_code for _ in range(3)]

    assert statuses == [200] * 5 + [429] * 3
