"""GET /metrics: the gateway's counters and state in Prometheus' text format.

Counters come from the usage rollups, so every process and every restart reports the same
totals (they trail the calls by the rollup interval, a minute); gauges are read when scraped.
Open to the bearer token METRICS_TOKEN, to staff, and to loopback callers that no proxy
forwarded; everyone else gets 403, since the figures name the catalog's APIs.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from apis.gateway.circuits import CLOSED, HALF_OPEN, OPEN, circuits_of
from apis.models import Api, Subscription, ToolCallAudit, UpstreamTarget
from apis.selectors import runs_catalog
from apis.usage.histogram import ERROR_BOUND, percentile
from apis.usage.models import ApiUsageTotal
from apis.usage.selectors import latency_by_api, usage_backlog
from core.addresses import client_address, is_direct_loopback
from core.attempts import Attempt, Limit, attempt_start
from core.problems import problem_response
from keys.models import TokenKey
from portal.conf import portal_settings

TOTALS = {
    "requests": ("portcullis_requests", "Calls through the gateway, refusals included."),
    "errors": ("portcullis_request_errors", "Calls answered with a status of 400 or more."),
    "prompt_tokens": ("portcullis_ai_prompt_tokens", "AI prompt tokens, as the providers count."),
    "completion_tokens": ("portcullis_ai_completion_tokens", "AI completion tokens."),
    "cache_read_tokens": ("portcullis_ai_cache_read_tokens", "AI prompt tokens read from cache."),
    "cache_write_tokens": (
        "portcullis_ai_cache_write_tokens",
        "AI prompt tokens written to cache.",
    ),
    "reasoning_tokens": ("portcullis_ai_reasoning_tokens", "AI completion tokens of reasoning."),
    "estimated_tokens": (
        "portcullis_ai_estimated_tokens",
        "AI tokens counted by the gateway because the provider reported none (in the totals).",
    ),
    "bytes_in": ("portcullis_request_bytes", "Request body bytes received from clients."),
    "bytes_out": ("portcullis_response_bytes", "Response body bytes sent to clients."),
}


def metrics(request: HttpRequest) -> HttpResponse:
    """The exposition, or 403 problem+json for callers that may not read it (429 after too
    many wrong metrics tokens from one address)."""
    attempt = _token_attempt(request)
    if attempt is not None and attempt.wait:
        detail = f"Too many wrong metrics tokens; retry in {attempt.wait} s."
        return problem_response(429, detail, headers={"Retry-After": str(attempt.wait)})
    if not _allowed(request):
        return problem_response(403, "Metrics are open to the metrics token and to staff.")
    if attempt is not None:
        attempt.release()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortcullisCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class PortcullisCollector:
    """Usage totals per API from their lifetime rollups; catalog, keys and backlog as gauges."""

    def collect(self) -> Iterator[Metric]:
        yield from _usage_totals()
        yield _latencies()
        yield _grouped("portcullis_apis", "APIs by lifecycle state.", Api.objects, "state")
        yield _grouped(
            "portcullis_subscriptions", "Subscriptions by status.", Subscription.objects, "status"
        )
        keys = GaugeMetricFamily(
            "portcullis_token_keys", "Token keys by use and status.", labels=["use", "status"]
        )
        for row in TokenKey.objects.values("use", "status").annotate(n=Count("pk")):
            keys.add_metric([row["use"], row["status"]], row["n"])
        yield keys
        yield _mcp_calls()
        yield from _backlog()
        yield from _upstream_targets()


def _usage_totals() -> Iterator[Metric]:
    # One row per API, kept however many events and rollups were pruned or deleted since:
    # counters that never go down.
    rows = ApiUsageTotal.objects.values("api__slug", *TOTALS, "cost").order_by("api__slug")
    families = {
        field: CounterMetricFamily(name, help_text, labels=["api"])
        for field, (name, help_text) in TOTALS.items()
    }
    cost = CounterMetricFamily("portcullis_ai_cost_usd", "AI cost in US dollars.", labels=["api"])
    for row in rows:
        for field, family in families.items():
            family.add_metric([row["api__slug"]], row[field])
        cost.add_metric([row["api__slug"]], float(row["cost"]))
    yield from families.values()
    yield cost


LATENCY_QUANTILES = (50, 95, 99)


def _latencies() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "portcullis_request_latency_ms",
        "Latency of the last 24 hours' calls by API, in milliseconds, from the hourly rollups' "
        f"histograms (within {ERROR_BOUND:.1%} of the exact percentile).",
        labels=["api", "quantile"],
    )
    histograms = latency_by_api(since=timezone.now() - timedelta(hours=24))
    for slug, histogram in sorted(histograms.items()):
        for rank in LATENCY_QUANTILES:
            family.add_metric([slug, f"{rank / 100}"], percentile(histogram, rank))
    return family


def _mcp_calls() -> CounterMetricFamily:
    family = CounterMetricFamily(
        "portcullis_mcp_calls",
        "Audited MCP calls (tools/call, prompts/get, resources/read) by API, method and outcome.",
        labels=["api", "method", "outcome"],
    )
    rows = ToolCallAudit.objects.values("api__slug", "method", "outcome").annotate(n=Count("pk"))
    for row in rows.order_by("api__slug", "method", "outcome"):
        family.add_metric([row["api__slug"] or "", row["method"], row["outcome"]], row["n"])
    return family


def _grouped(name: str, help_text: str, manager, field: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[field])
    for row in manager.values(field).annotate(n=Count("pk")).order_by(field):
        family.add_metric([row[field]], row["n"])
    return family


def _backlog() -> Iterator[Metric]:
    backlog = usage_backlog()
    yield GaugeMetricFamily(
        "portcullis_usage_events_pending_rollup",
        "Usage events stored but not yet in a rollup.",
        value=backlog["pending_rollup"],
    )
    yield GaugeMetricFamily(
        "portcullis_usage_rejected",
        "Usage stream entries the database refused, set aside for staff.",
        value=backlog["rejected"],
    )
    if backlog["stream"] is not None:
        yield GaugeMetricFamily(
            "portcullis_usage_stream_length",
            "Usage events on the Redis stream, not yet stored.",
            value=backlog["stream"],
        )


def _upstream_targets() -> Iterator[Metric]:
    labels = ["api", "target"]
    states = GaugeMetricFamily(
        "portcullis_upstream_target_state",
        "Circuit of each upstream target: 1 for its current state.",
        labels=[*labels, "state"],
    )
    failures = GaugeMetricFamily(
        "portcullis_upstream_target_failures",
        "Failures counted against each upstream target in its current window.",
        labels=labels,
    )
    targets = list(UpstreamTarget.objects.select_related("api").order_by("api__slug", "id"))
    found = circuits_of(targets)
    for target in targets:
        circuit = found[target.pk]
        for state in (CLOSED, OPEN, HALF_OPEN):
            states.add_metric([target.api.slug, target.url, state], int(circuit.state == state))
        failures.add_metric([target.api.slug, target.url], circuit.failures)
    yield states
    yield failures


def _presented_token(request: HttpRequest) -> str | None:
    """The bearer token to check against METRICS_TOKEN, when one is set and presented."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if portal_settings.METRICS_TOKEN and scheme.lower() == "bearer":
        return token.strip()
    return None


def _token_attempt(request: HttpRequest) -> Attempt | None:
    # A token is a secret like a password: guesses are counted per address.
    if _presented_token(request) is None:
        return None
    limit = Limit.of(f"metrics-token:{client_address(request)}", portal_settings.METRICS_TOKEN_RATE)
    return attempt_start([limit])


def _allowed(request: HttpRequest) -> bool:
    token = _presented_token(request)
    if token is not None:
        return hmac.compare_digest(token.encode(), portal_settings.METRICS_TOKEN.encode())
    if runs_catalog(request.user):
        return True
    return is_direct_loopback(request)
