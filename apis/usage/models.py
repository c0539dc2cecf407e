"""Usage: one event per gateway call, their hourly and daily rollups, the month's spend.

The tables keep the names they had in the catalog app (`apis_…`): the models moved to this
app in the migration state only, so that an existing database kept its rows where they were.
"""

from __future__ import annotations

from django.db import models

from apis.models.catalog import Api, Subscription
from keys.models import Application


class UsageEvent(models.Model):
    """One gateway call; its unique `source_id` (the stream entry id) makes ingestion idempotent."""

    source_id = models.CharField(max_length=64, unique=True, editable=False)
    at = models.DateTimeField()
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField(default=0)
    bytes_in = models.PositiveBigIntegerField(default=0)
    bytes_out = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Parts of the two counts above, as the provider reported them.
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    # The tokens were counted by the gateway: the provider's own count never arrived.
    estimated = models.BooleanField(default=False)
    # Answered from the AI answer cache: no provider was called, nothing was spent.
    cached = models.BooleanField(default=False)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    channel = models.CharField(max_length=8, default="http")
    request_id = models.CharField(max_length=128, blank=True)
    model = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "apis_usageevent"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["api", "application", "at"], name="usage_event_period"),
            # The pruning's way to the oldest events.
            models.Index(fields=["at"], name="usage_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status} {self.request_id}"


class UsageEventPending(models.Model):
    """An event stored but not yet added into the rollups: the rollup's work queue. A narrow
    row written with its event and deleted when the event is added, so that rolling up never
    rewrites the wide event row and its indexes."""

    # No constraint and nothing done on delete: pruning deletes events in batches without a
    # look here (it skips queued ones), and an event deleted with its API leaves an id in which
    # the rollup finds nothing to add, and drops.
    event = models.OneToOneField(
        UsageEvent,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        # Beside the other usage tables, which keep the names they had under `apis`.
        db_table = "apis_usageeventpending"
        verbose_name = "usage event pending rollup"

    def __str__(self) -> str:
        return str(self.event_id)


class UsageRejected(models.Model):
    """A usage stream entry the database refused: kept as it came, out of the ingest's way."""

    source_id = models.CharField(max_length=64, unique=True, editable=False)
    fields = models.JSONField()
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "apis_usagerejected"
        ordering = ["-at"]
        verbose_name = "rejected usage entry"
        verbose_name_plural = "rejected usage entries"

    def __str__(self) -> str:
        return f"{self.source_id}: {self.reason[:60]}"


class TokenSums(models.Model):
    """The AI tokens that a rollup adds up over its calls."""

    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    # Of prompt and completion tokens, those counted by the gateway rather than the provider.
    estimated_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageRollup(TokenSums):
    """Totals of one API and application over one hour or one day, each event added once."""

    class Granularity(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    period_start = models.DateTimeField()
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    p50_ms = models.PositiveIntegerField(default=0)
    p95_ms = models.PositiveIntegerField(default=0)
    # Calls per latency bucket (apis/usage/histogram.py): what p50 and p95 are read from,
    # and what adds up over periods, APIs and applications.
    latency_histogram = models.JSONField(default=dict, editable=False)
    bytes_in = models.PositiveBigIntegerField(default=0)
    bytes_out = models.PositiveBigIntegerField(default=0)
    # The newest call added into this row; empty for rows rolled up before it was recorded.
    last_call_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "apis_usagerollup"
        ordering = ["-period_start", "api_id", "application_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "api", "application"],
                name="usage_rollup_period",
            )
        ]
        # The usage API's filters (by API, by application) over a window: rows read are the
        # window's rollups, however many events they sum up.
        indexes = [
            models.Index(fields=["granularity", "api", "period_start"], name="usage_rollup_api"),
            models.Index(
                fields=["granularity", "application", "period_start"], name="usage_rollup_app"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.granularity} {self.period_start:%Y-%m-%d %H:00}"


class ApiLatencyHour(models.Model):
    """The latency histogram of one API's calls over one hour, every application together:
    what `/metrics` reads its latency quantiles from, a day's rows per API however many
    applications call it."""

    period_start = models.DateTimeField()
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="+")
    latency_histogram = models.JSONField(default=dict, editable=False)

    class Meta:
        db_table = "apis_apilatencyhour"
        ordering = ["-period_start", "api_id"]
        # Also the way to the last day's rows, by period first.
        constraints = [
            models.UniqueConstraint(fields=["period_start", "api"], name="api_latency_hour")
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m-%d %H:00}"


class ApiUsageTotal(TokenSums):
    """Everything one API has counted since its first call, each event added once: the
    `/metrics` counters, one row per API, which never go down when events are pruned or an
    application (and its rollups) is deleted."""

    api = models.OneToOneField(Api, primary_key=True, on_delete=models.CASCADE, related_name="+")
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    bytes_in = models.PositiveBigIntegerField(default=0)
    bytes_out = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "apis_apiusagetotal"
        verbose_name = "usage total of an API"

    def __str__(self) -> str:
        return f"{self.requests} calls"


class SpendRollup(models.Model):
    """What one application spent on one API in one UTC day, per model or deployment that
    answered: the admin's spend this month, read without going through the events."""

    day = models.DateField()
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    # The deployment that answered, else provider/model; empty for calls no model answered.
    model = models.CharField(max_length=200, blank=True)
    calls = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    # Calls whose tokens the gateway counted (the provider's count never came), and their cost.
    estimated_calls = models.PositiveIntegerField(default=0)
    estimated_cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    cached_calls = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "apis_spendrollup"
        ordering = ["-day", "api_id", "application_id", "model"]
        verbose_name = "spend rollup"
        verbose_name_plural = "spend this month"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "api", "application", "model"], name="spend_rollup_day"
            )
        ]
        # The month's spend: the month's rows only, however many events they sum up.
        indexes = [models.Index(fields=["day"], name="spend_rollup_month")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.model or '-'}"


class UsageLock(models.Model):
    """A row locked with SELECT ... FOR UPDATE so that only one rollup runs at a time."""

    name = models.CharField(max_length=40, unique=True)

    class Meta:
        db_table = "apis_usagelock"

    def __str__(self) -> str:
        return self.name


class SpendAlert(models.Model):
    """An application reached 80% or 100% of a budget or quota this month: its owner was told
    once, by e-mail and on the portal, and staff see it here."""

    class Policy(models.TextChoices):
        BUDGET = "budget", "Money budget"
        TOKENS = "tokens", "Token quota"
        MONTHLY = "monthly", "Request quota"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    # Empty for the application's own budget, over every API.
    api = models.ForeignKey(Api, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    policy = models.CharField(max_length=8, choices=Policy.choices)
    threshold = models.PositiveSmallIntegerField()
    month = models.CharField(max_length=7, help_text="YYYY-MM (UTC)")
    detail = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "apis_spendalert"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "api", "policy", "threshold", "month"],
                nulls_distinct=False,
                name="one_alert_per_threshold_and_month",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application}: {self.threshold}% of {self.get_policy_display()}"
